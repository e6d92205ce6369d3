//! The status page at `/` for the operations team: per platform, the last cycle, drift by group
//! in words, groups owned by a console, failed operations, the mark backlog and recent console
//! changes. Server-rendered (maud, escaping by default), no JavaScript, refreshed by the browser
//! every [`REFRESH_SECONDS`], in Chinese or English by `Accept-Language`, one column on a phone.
//!
//! It shows what the mirror holds about tags and runs, never a secret or a customer id: marks
//! appear only as counts. Off loopback it needs the bearer token, like `/metrics`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};

use super::http::AppState;
use crate::clock::SharedClock;
use crate::engine::{self, StatusReport};
use crate::store::{DriftItem, PlatformStatus, RunBrief, Store};

/// How often the browser reloads the page.
pub const REFRESH_SECONDS: u32 = 30;

/// Where the page's report comes from (the mirror; a fake in tests).
#[async_trait::async_trait]
pub trait StatusSource: Send + Sync {
    async fn report(&self) -> Result<StatusReport, String>;
}

/// The report read from the mirror at the clock's now.
pub struct MirrorStatus {
    store: Store,
    platforms: Vec<(String, String, String)>,
    clock: SharedClock,
}

impl MirrorStatus {
    /// `platforms` as [`engine::configured`] lists them.
    pub fn new(store: Store, platforms: Vec<(String, String, String)>, clock: SharedClock) -> Self {
        Self {
            store,
            platforms,
            clock,
        }
    }
}

#[async_trait::async_trait]
impl StatusSource for MirrorStatus {
    async fn report(&self) -> Result<StatusReport, String> {
        engine::status(&self.store, &self.platforms, self.clock.now())
            .await
            .map_err(|e| e.to_string())
    }
}

/// The page's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    /// The preferred of Chinese and English in an `Accept-Language` header (by `q`, then by
    /// position); English when it names neither.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.unwrap_or("").split(',') {
            let mut fields = part.split(';');
            let tag = fields.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = fields
                .filter_map(|f| f.trim().strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let lang = if tag == "zh" || tag.starts_with("zh-") {
                Lang::Zh
            } else if tag == "en" || tag.starts_with("en-") {
                Lang::En
            } else {
                continue;
            };
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }

    fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }
}

/// The words of the page, in one language.
struct Words {
    title: &'static str,
    updated: &'static str,
    refresh: &'static str,
    last_cycle: &'static str,
    last_apply: &'static str,
    never: &'static str,
    ago: fn(String) -> String,
    in_step: &'static str,
    drift: &'static str,
    not_ours: &'static str,
    not_ours_hint: &'static str,
    failed: &'static str,
    marks: &'static str,
    marks_line: fn(i64, Option<String>, i64) -> String,
    console: &'static str,
    none: &'static str,
    last_error: &'static str,
    lease: &'static str,
    the_group: &'static str,
    attempts: &'static str,
    unavailable: &'static str,
}

const EN: Words = Words {
    title: "tagsync status",
    updated: "As of",
    refresh: "refreshes every 30 s",
    last_cycle: "Last cycle",
    last_apply: "Last changes sent",
    never: "never",
    ago: |a| format!("{a} ago"),
    in_step: "Every declared tag is in step.",
    drift: "What differs, and why",
    not_ours: "Groups owned by the console",
    not_ours_hint: "tagsync may not change these groups: a person must change them in the platform's console.",
    failed: "Failed operations",
    marks: "Customer marks",
    marks_line: |q, oldest, failed| {
        let mut s = format!("{q} waiting");
        if let Some(o) = oldest {
            s.push_str(&format!(", the oldest for {o}"));
        }
        if failed > 0 {
            s.push_str(&format!("; {failed} dead"));
        }
        s
    },
    console: "Recent changes made in the console",
    none: "none",
    last_error: "Last error",
    lease: "Being written by",
    the_group: "the group",
    attempts: "attempts",
    unavailable: "The mirror cannot be read right now.",
};

const ZH: Words = Words {
    title: "tagsync 状态",
    updated: "更新于",
    refresh: "每 30 秒自动刷新",
    last_cycle: "最近一轮同步",
    last_apply: "最近一次写入",
    never: "从未",
    ago: |a| format!("{a}前"),
    in_step: "所有声明的标签都已同步。",
    drift: "差异及原因",
    not_ours: "后台创建的分组",
    not_ours_hint: "tagsync 无权修改这些分组，需要有人在平台后台手动修改。",
    failed: "失败的操作",
    marks: "客户打标",
    marks_line: |q, oldest, failed| {
        let mut s = format!("等待中 {q} 条");
        if let Some(o) = oldest {
            s.push_str(&format!("，最早的已等待 {o}"));
        }
        if failed > 0 {
            s.push_str(&format!("；已放弃 {failed} 条"));
        }
        s
    },
    console: "最近在后台做的修改",
    none: "无",
    last_error: "最近错误",
    lease: "正在写入",
    the_group: "分组本身",
    attempts: "次尝试",
    unavailable: "暂时无法读取镜像数据库。",
};

fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::En => &EN,
        Lang::Zh => &ZH,
    }
}

/// Why a declared object is not in step, in words a person acts on.
fn why(status: &str, lang: Lang) -> &'static str {
    match (lang, status) {
        (Lang::En, "missing") => "declared, but not on the platform: the next cycle creates it",
        (Lang::En, "renamed") => "has another name on the platform: the next cycle renames it",
        (Lang::En, "reordered") => "in another order on the platform: the next cycle reorders it",
        (Lang::En, "extra") => "on the platform, but not declared",
        (Lang::En, "not_ours") => {
            "its group belongs to the console: change it there, tagsync may not"
        }
        (Lang::En, _) => {
            "differs, and the platform's API cannot change it: change it in the console"
        }
        (Lang::Zh, "missing") => "已声明，但平台上没有：下一轮同步会创建",
        (Lang::Zh, "renamed") => "平台上的名称不同：下一轮同步会改名",
        (Lang::Zh, "reordered") => "平台上的顺序不同：下一轮同步会调整",
        (Lang::Zh, "extra") => "平台上有，但未声明",
        (Lang::Zh, "not_ours") => "所在分组由后台创建，tagsync 无权修改：请在后台修改",
        (Lang::Zh, _) => "不一致，且平台接口无法修改：请在后台修改",
    }
}

fn status_word(status: &str, lang: Lang) -> &str {
    match (lang, status) {
        (Lang::Zh, "succeeded") => "成功",
        (Lang::Zh, "failed") => "失败",
        (Lang::Zh, "partial") => "部分成功",
        (Lang::Zh, "running") => "进行中",
        _ => status,
    }
}

fn change_word(kind: &str, object: &str, lang: Lang) -> String {
    match lang {
        Lang::En => format!("{object} {kind}"),
        Lang::Zh => {
            let object = if object == "group" {
                "分组"
            } else {
                "标签"
            };
            let kind = match kind {
                "created" => "新建",
                "renamed" => "改名",
                "reordered" => "调整顺序",
                "moved" => "移动",
                "deleted" => "删除",
                other => other,
            };
            format!("{object}{kind}")
        }
    }
}

fn age(at: DateTime<Utc>, now: DateTime<Utc>, lang: Lang) -> String {
    let s = (now - at).num_seconds().max(0);
    let (n, unit) = match s {
        0..60 => (s, 0),
        60..3600 => (s / 60, 1),
        3600..86400 => (s / 3600, 2),
        _ => (s / 86400, 3),
    };
    let units = match lang {
        Lang::En => ["s", "min", "h", "d"],
        Lang::Zh => [" 秒", " 分钟", " 小时", " 天"],
    };
    format!("{n}{}", units[unit])
}

/// The page for `report` (its `generated_at` is "now").
pub fn render(report: &StatusReport, lang: Lang) -> Markup {
    let w = words(lang);
    let now = report.generated_at;
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="refresh" content=(REFRESH_SECONDS);
                title { (w.title) }
                style { (maud::PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { (w.title) }
                    p.muted { (w.updated) " " (now.format("%Y-%m-%d %H:%M:%S UTC")) " · " (w.refresh) }
                }
                @for p in &report.platforms {
                    (platform(p, now, lang))
                }
            }
        }
    }
}

/// The page when the mirror cannot be read.
pub fn render_unavailable(lang: Lang) -> Markup {
    let w = words(lang);
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="refresh" content=(REFRESH_SECONDS);
                title { (w.title) }
                style { (maud::PreEscaped(CSS)) }
            }
            body { h1 { (w.title) } p.bad { (w.unavailable) } }
        }
    }
}

fn outcome_class(status: &str) -> &'static str {
    match status {
        "succeeded" => "ok",
        "failed" => "bad",
        _ => "warn",
    }
}

fn run_line(run: Option<&RunBrief>, now: DateTime<Utc>, lang: Lang) -> Markup {
    let w = words(lang);
    match run {
        None => html! { span.muted { (w.never) } },
        Some(r) => {
            let at = r.finished_at.unwrap_or(r.started_at);
            html! {
                span class=(outcome_class(&r.status)) { (status_word(&r.status, lang)) }
                " · " ((w.ago)(age(at, now, lang)))
                @if r.applied > 0 || r.failed > 0 {
                    " · " (r.applied) " ✓ " (r.failed) " ✗"
                }
            }
        }
    }
}

fn drift_by_group(items: &[DriftItem]) -> BTreeMap<&str, Vec<&DriftItem>> {
    let mut groups: BTreeMap<&str, Vec<&DriftItem>> = BTreeMap::new();
    for d in items {
        groups.entry(d.group_name.as_str()).or_default().push(d);
    }
    groups
}

fn platform(p: &PlatformStatus, now: DateTime<Utc>, lang: Lang) -> Markup {
    let w = words(lang);
    let state = match p.last_run.as_ref().map(|r| r.status.as_str()) {
        Some("failed") => "s-bad",
        _ if !p.drift.is_empty() || !p.failed_operations.is_empty() => "s-warn",
        Some(_) => "s-ok",
        None => "s-none",
    };
    html! {
        section class=(format!("platform {state}")) {
            h2 { (p.name) " " span.muted { "(" (p.kind) ", " (p.mode) ")" } }
            dl {
                dt { (w.last_cycle) } dd { (run_line(p.last_run.as_ref(), now, lang)) }
                dt { (w.last_apply) } dd { (run_line(p.last_apply.as_ref(), now, lang)) }
                @if let Some(e) = &p.last_error {
                    dt { (w.last_error) } dd.bad { (e) }
                }
                @if let Some(holder) = &p.lease_holder {
                    dt { (w.lease) } dd { (holder) }
                }
                dt { (w.marks) }
                dd class=(if p.marks_dead > 0 { "bad" } else { "" }) {
                    ((w.marks_line)(p.mark_queue, p.oldest_mark_at.map(|t| age(t, now, lang)), p.marks_dead))
                }
            }
            h3 { (w.drift) }
            @if p.drift.is_empty() {
                p.ok { (w.in_step) }
            } @else {
                @for (group, items) in drift_by_group(&p.drift) {
                    h4 { (group) }
                    ul {
                        @for d in items {
                            li {
                                strong { (d.tag_name.as_deref().unwrap_or(w.the_group)) } ": "
                                (why(&d.status, lang))
                                @if let Some(detail) = &d.detail {
                                    " " span.muted { "(" (detail) ")" }
                                }
                            }
                        }
                    }
                }
            }
            @if !p.not_ours.is_empty() {
                h3 { (w.not_ours) }
                p.muted { (w.not_ours_hint) }
                ul {
                    @for n in &p.not_ours {
                        li { (n.name.as_deref().unwrap_or("?")) }
                    }
                }
            }
            @if !p.failed_operations.is_empty() {
                h3 { (w.failed) }
                ul {
                    @for f in &p.failed_operations {
                        li {
                            strong { (f.target) } " · " (f.kind) " · " (f.error_class)
                            " · " (f.attempts) " " (w.attempts)
                            @if let Some(e) = &f.error { br; span.muted { (e) } }
                        }
                    }
                }
            }
            h3 { (w.console) }
            @if p.console_changes.is_empty() {
                p.muted { (w.none) }
            } @else {
                ul {
                    @for c in p.console_changes.iter().take(10) {
                        li {
                            (change_word(&c.kind, &c.object, lang)) ": "
                            @match (&c.old_value, &c.new_value) {
                                (Some(old), Some(new)) => { (old) " → " (new) }
                                (Some(old), None) => { (old) }
                                (None, Some(new)) => { (new) }
                                (None, None) => {}
                            }
                            " " span.muted { "· " ((w.ago)(age(c.at, now, lang))) }
                        }
                    }
                }
            }
        }
    }
}

const CSS: &str = "
body{font-family:system-ui,-apple-system,'PingFang SC','Noto Sans CJK SC','Microsoft YaHei',sans-serif;
 margin:0 auto;max-width:60rem;padding:1rem;line-height:1.5;color:#1d2330;background:#f5f6f8}
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.2rem;margin:0 0 .5rem}
h3{font-size:1rem;margin:1rem 0 .3rem}h4{font-size:.95rem;margin:.5rem 0 .2rem}
.platform{background:#fff;border-radius:.5rem;padding:1rem;margin:1rem 0;border-left:.4rem solid #9aa3b2}
.s-ok{border-left-color:#2e9d5b}.s-warn{border-left-color:#d69a1a}.s-bad{border-left-color:#d23f3f}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}dt{color:#5b6474}dd{margin:0}
ul{margin:.2rem 0;padding-left:1.2rem}.muted{color:#6b7384}.ok{color:#1f7a45}.warn{color:#9a6a00}.bad{color:#b32626}
span.ok,span.warn,span.bad{font-weight:600}
@media (max-width:30rem){dl{grid-template-columns:1fr}dt{margin-top:.4rem}body{padding:.5rem}}
";

/// `GET /`: the page, after the same bearer check as `/metrics`.
pub async fn page(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if !s.auth.allows(&headers) {
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"tagsync\""),
        );
        return response;
    }
    let lang = Lang::from_accept_language(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let mut response = match s.status.report().await {
        Ok(report) => Html(render(&report, lang).into_string()).into_response(),
        Err(error) => {
            tracing::warn!(message = "The status page cannot read the mirror.", %error);
            let body = Html(render_unavailable(lang).into_string());
            (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
        }
    };
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept-Language"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preferred_of_chinese_and_english() {
        let l = |h| Lang::from_accept_language(Some(h));
        assert_eq!(l("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(l("en-US,en;q=0.9,zh-CN;q=0.8"), Lang::En);
        assert_eq!(l("fr-FR,zh-TW;q=0.5"), Lang::Zh);
        assert_eq!(l("en;q=0.3, zh;q=0.7"), Lang::Zh);
        assert_eq!(l("zh;q=0, en"), Lang::En);
        assert_eq!(l("de"), Lang::En);
        assert_eq!(Lang::from_accept_language(None), Lang::En);
    }

    #[test]
    fn ages_in_both_languages() {
        let now = DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z")
            .unwrap()
            .to_utc();
        let at = now - chrono::Duration::hours(5);
        assert_eq!(age(at, now, Lang::En), "5h");
        assert_eq!(age(at, now, Lang::Zh), "5 小时");
    }
}
