//! Configuration loading through [`check`]: YAML text in, the validated settings or every
//! diagnostic out. `UPDATE_EXPECT=1 cargo test --lib settings::` rewrites the expectations; read
//! the diff. Environment overrides are covered by the corpus (`tests/data/*/env*`), which runs the
//! binary with a controlled environment; these tests set no variable.

use expect_test::{Expect, expect};
use figment::value::Value;

use super::*;

fn check(text: &str, expect: Expect) {
    let actual = match load_str("tagsync.yaml", text) {
        Ok(s) => render(&s),
        Err(d) => format!("{d}\n"),
    };
    expect.assert_eq(&actual);
}

fn render(s: &Settings) -> String {
    let mut out = format!(
        "database_url={} tags={} schedule={:?} listen={} prune={} max_deletes={}\n",
        s.database_url,
        s.tags.display(),
        s.schedule,
        s.listen,
        s.prune,
        s.max_deletes
    );
    for (name, p) in &s.platforms {
        assert_eq!(name, &p.name);
        let secret = match &p.secret {
            SecretSource::Env(v) => format!("env:{v}"),
            SecretSource::File(f) => format!("file:{}", f.display()),
        };
        let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        assert_eq!(p.config.kind(), p.kind);
        let (corp_id, strategy_id, app_id) = match &p.config {
            KindSettings::Wecom(c) => (
                Some(c.corp_id.clone()),
                c.strategy_id.map(|i| i.to_string()),
                None,
            ),
            KindSettings::Yzj(c) => (None, None, Some(c.app_id.clone())),
            _ => (None, None, None),
        };
        out.push_str(&format!(
            "{name}: kind={} base_url={} mode={} rate_limit={} schedule={} secret={secret} corp_id={} strategy_id={} app_id={} timeout={}s\n",
            p.kind,
            p.base_url,
            p.mode.as_str(),
            opt(p.rate_limit.map(|r| format!("{}/{}", r.per_second, r.burst))),
            opt(p.schedule.clone()),
            opt(corp_id),
            opt(strategy_id),
            opt(app_id),
            p.timeout.as_secs(),
        ));
    }
    out
}

const JUZI: &str = "
platforms:
  juzi-main:
    kind: juzibot
    base_url: https://hub.juzibot.com
    secret_env: JUZI_MAIN_TOKEN
";

#[test]
fn defaults() {
    check(
        JUZI,
        expect![[r#"
            database_url=sqlite://tagsync.db?mode=rwc tags=config/tags schedule="0 */5 * * * *" listen=127.0.0.1:9187 prune=false max_deletes=20
            juzi-main: kind=juzibot base_url=https://hub.juzibot.com/ mode=enforce rate_limit=- schedule=- secret=env:JUZI_MAIN_TOKEN corp_id=- strategy_id=- app_id=- timeout=15s
        "#]],
    );
}

#[test]
fn the_example_configures_all_five_kinds() {
    check(
        include_str!("../../config/tagsync.example.yaml"),
        expect![[r#"
            database_url=sqlite://tagsync.db?mode=rwc tags=config/tags schedule="0 */5 * * * *" listen=127.0.0.1:9187 prune=false max_deletes=20
            crm: kind=wechat_crm base_url=https://crm.example.com/api mode=observe rate_limit=- schedule=- secret=env:CRM_ACCESS_TOKEN corp_id=- strategy_id=- app_id=- timeout=15s
            dustess: kind=dustess base_url=https://qw-openapi-tx.dustess.com/ mode=enforce rate_limit=- schedule=- secret=env:DUSTESS_ACCESS_TOKEN corp_id=- strategy_id=- app_id=- timeout=15s
            juzi-main: kind=juzibot base_url=https://hub.juzibot.com/ mode=enforce rate_limit=5/5 schedule=- secret=env:JUZI_MAIN_TOKEN corp_id=- strategy_id=- app_id=- timeout=15s
            wecom-hq: kind=wecom base_url=https://qyapi.weixin.qq.com/ mode=enforce rate_limit=10/10 schedule=- secret=env:WECOM_HQ_SECRET corp_id=ww0123456789abcdef strategy_id=1 app_id=- timeout=15s
            yzj: kind=yzj base_url=https://oapi-yzj.miaokol.com/ mode=enforce rate_limit=- schedule=- secret=file:/run/credentials/tagsync/yzj corp_id=- strategy_id=- app_id=44n2AsVZArKefJbuaE timeout=15s
        "#]],
    );
}

#[test]
fn every_top_level_key() {
    check(
        &format!(
            "
database_url: postgres://tagsync@db.internal/tagsync
tags: /etc/tagsync/tags
schedule: \"30 0 * * * *\"
listen: \"[::1]:9000\"
prune: true
max_deletes: 0
{JUZI}    mode: observe
    rate_limit: {{ per_second: 2, burst: 4 }}
    schedule: \"0 0 * * * *\"
    timeout_seconds: 60
"
        ),
        expect![[r#"
            database_url=postgres://tagsync@db.internal/tagsync tags=/etc/tagsync/tags schedule="30 0 * * * *" listen=[::1]:9000 prune=true max_deletes=0
            juzi-main: kind=juzibot base_url=https://hub.juzibot.com/ mode=observe rate_limit=2/4 schedule=0 0 * * * * secret=env:JUZI_MAIN_TOKEN corp_id=- strategy_id=- app_id=- timeout=60s
        "#]],
    );
}

#[test]
fn wecom_requires_corp_id_and_accepts_strategy_id() {
    check(
        "
platforms:
  ok:
    kind: wecom
    base_url: https://qyapi.weixin.qq.com
    corp_id: ww01
    strategy_id: 7
    secret_file: /run/credentials/tagsync/wecom
  bad:
    kind: wecom
    base_url: https://qyapi.weixin.qq.com
    app_id: x
    secret_env: WECOM_SECRET
",
        expect![[r#"
            error: tagsync.yaml:9:3: platform "bad" of kind wecom needs `corp_id`
              hint: add `corp_id:`, the WeCom corp ID (ww…) from the admin console
            error: tagsync.yaml:12:5: `app_id` does not apply to kind wecom
              hint: remove it; app_id is a setting of yzj
        "#]],
    );
}

#[test]
fn yzj_requires_app_id_and_nothing_else() {
    check(
        "
platforms:
  yzj:
    kind: yzj
    base_url: https://oapi-yzj.miaokol.com
    corp_id: ww01
    strategy_id: 1
    secret_env: YZJ_ACCESS_TOKEN
",
        expect![[r#"
            error: tagsync.yaml:3:3: platform "yzj" of kind yzj needs `app_id`
              hint: add `app_id:`, the app ID the Miaokol (yzj) open platform issued
            error: tagsync.yaml:6:5: `corp_id` does not apply to kind yzj
              hint: remove it; corp_id is a setting of wecom
            error: tagsync.yaml:7:5: `strategy_id` does not apply to kind yzj
              hint: remove it; strategy_id is a setting of wecom
        "#]],
    );
}

#[test]
fn juzibot_dustess_and_wechat_crm_take_no_kind_specific_key() {
    check(
        "
platforms:
  juzi:
    kind: juzibot
    base_url: https://hub.juzibot.com
    corp_id: ww01
    secret_env: JUZI_TOKEN
  dustess:
    kind: dustess
    base_url: https://qw-openapi-tx.dustess.com
    app_id: a
    secret_env: DUSTESS_TOKEN
  crm:
    kind: wechat_crm
    base_url: https://crm.example.com/api
    strategy_id: 1
    secret_env: CRM_TOKEN
",
        expect![[r#"
            error: tagsync.yaml:6:5: `corp_id` does not apply to kind juzibot
              hint: remove it; corp_id is a setting of wecom
            error: tagsync.yaml:11:5: `app_id` does not apply to kind dustess
              hint: remove it; app_id is a setting of yzj
            error: tagsync.yaml:16:5: `strategy_id` does not apply to kind wechat_crm
              hint: remove it; strategy_id is a setting of wecom
        "#]],
    );
}

#[test]
fn every_kind_requires_kind_base_url_and_one_secret() {
    check(
        "
platforms:
  a:
    base_url: https://hub.juzibot.com
    secret_env: A
",
        expect![[r#"
            error: tagsync.yaml:3:3: missing key `platforms.a.kind`
              hint: add `kind:`, one of wecom, juzibot, yzj, dustess, wechat_crm
        "#]],
    );
    check(
        "
platforms:
  a:
    kind: dustess
  b:
    kind: wechat_crm
    base_url: ftp://crm.example.com
    secret_env: B
    secret_file: /run/b
  c:
    kind: juzibot
    base_url: hub.juzibot.com
    secret_env: \"not a name\"
",
        expect![[r#"
            error: tagsync.yaml:3:3: platform "a" has no `base_url`
              hint: every platform needs its API's base URL; for dustess: https://qw-openapi-tx.dustess.com
            error: tagsync.yaml:3:3: platform "a" has no secret
              hint: add `secret_env: VARIABLE` or `secret_file: /path`; secrets are never written in the config
            error: tagsync.yaml:7:15: `base_url` "ftp://crm.example.com" is not an http(s) URL
              hint: for wechat_crm: the API address your CRM vendor gives you
            error: tagsync.yaml:9:5: platform "b" sets both `secret_env` and `secret_file`
              hint: keep one: a platform has exactly one secret
            error: tagsync.yaml:12:15: `base_url` "hub.juzibot.com" is not an http(s) URL
              hint: add the scheme: https://hub.juzibot.com
            error: tagsync.yaml:13:17: `secret_env` "not a name" is not an environment variable name
              hint: name the variable that holds the secret, e.g. WECOM_HQ_SECRET; never the secret itself
        "#]],
    );
}

#[test]
fn unknown_keys_suggest_the_closest() {
    check(
        &format!("max_delets: 5\n{JUZI}    rate_limt: {{ per_second: 1, burst: 1 }}\n"),
        expect![[r#"
            error: tagsync.yaml:1:1: unknown key `max_delets`
              hint: did you mean `max_deletes`?
        "#]],
    );
    check(
        &format!("{JUZI}    rate_limt: {{ per_second: 1, burst: 1 }}\n"),
        expect![[r#"
            error: tagsync.yaml:7:5: unknown key `platforms.juzi-main.rate_limt`
              hint: did you mean `rate_limit`?
        "#]],
    );
    check(
        &format!("{JUZI}    rate_limit: {{ per_second: 1, brust: 1 }}\n"),
        expect![[r#"
            error: tagsync.yaml:7:34: unknown key `platforms.juzi-main.rate_limit.brust`
              hint: did you mean `burst`?
        "#]],
    );
    // Nothing close: the accepted keys are listed.
    check(
        &format!("colour: blue\n{JUZI}"),
        expect![[r#"
            error: tagsync.yaml:1:1: unknown key `colour`
              hint: accepted keys here: database_url, tags, schedule, listen, http_token_env, http_token_file, prune, max_deletes, lease_ttl_seconds, platforms
        "#]],
    );
}

#[test]
fn a_lease_ttl_out_of_range_is_refused_at_its_key() {
    check(
        &format!("lease_ttl_seconds: 2\n{JUZI}"),
        expect![[r#"
            error: tagsync.yaml:1:20: `lease_ttl_seconds` 2 is out of range 3..=3600
              hint: the lease is renewed every third of it; 120 is the default
        "#]],
    );
}

#[test]
fn closest_accepts_small_typos_only() {
    let keys = ["max_deletes", "prune", "platforms", "tags"];
    assert_eq!(closest("max_delets", &keys), Some("max_deletes"));
    assert_eq!(closest("prunee", &keys), Some("prune"));
    assert_eq!(closest("tag", &keys), Some("tags"));
    assert_eq!(closest("platfroms", &keys), Some("platforms"));
    assert_eq!(closest("colour", &keys), None);
}

#[test]
fn values_are_checked_where_they_are_written() {
    check(
        &format!(
            "
database_url: mysql://db/tagsync
schedule: \"*/5 * * * *\"
listen: localhost
{JUZI}    rate_limit: {{ per_second: 0, burst: 1 }}
    timeout_seconds: 0
"
        ),
        expect![[r#"
            error: tagsync.yaml:2:15: `database_url` must start with sqlite: or postgres:
              hint: e.g. sqlite://tagsync.db?mode=rwc or postgres://tagsync@localhost/tagsync
            error: tagsync.yaml:3:11: schedule "*/5 * * * *" is not a valid cron expression: Invalid pattern: Pattern must have 6 or 7 fields when seconds are required and years are optional.
              hint: six fields with seconds first, in UTC: "0 */5 * * * *" runs every five minutes
            error: tagsync.yaml:4:9: `listen` "localhost" is not an address with a port
              hint: e.g. 127.0.0.1:9187
            error: tagsync.yaml:11:17: `rate_limit` needs per_second and burst of at least 1
              hint: e.g. { per_second: 10, burst: 10 }
            error: tagsync.yaml:12:22: `timeout_seconds` must be at least 1
        "#]],
    );
}

#[test]
fn platform_names_and_presence() {
    check(
        "platforms:\n  企微总部:\n    kind: juzibot\n    base_url: https://hub.juzibot.com\n    secret_env: T\n",
        expect![[r#"
            error: tagsync.yaml:2:3: platform name "企微总部" is not valid
              hint: use 1 to 40 ASCII letters, digits, `-` or `_`
        "#]],
    );
    check(
        "max_deletes: 5\n",
        expect![[r#"
            error: tagsync.yaml:1:1: no platform is configured
              hint: add at least one entry under `platforms:`; see config/tagsync.example.yaml
        "#]],
    );
    check(
        "",
        expect![[r#"
            error: tagsync.yaml:1:1: no platform is configured
              hint: add at least one entry under `platforms:`; see config/tagsync.example.yaml
        "#]],
    );
}

#[test]
fn types_follow_yaml_1_2() {
    // `Y` is a string in YAML 1.2 (a boolean in 1.1): a fine variable name.
    check(
        "platforms:\n  y:\n    kind: juzibot\n    base_url: https://hub.juzibot.com\n    secret_env: Y\n",
        expect![[r#"
            database_url=sqlite://tagsync.db?mode=rwc tags=config/tags schedule="0 */5 * * * *" listen=127.0.0.1:9187 prune=false max_deletes=20
            y: kind=juzibot base_url=https://hub.juzibot.com/ mode=enforce rate_limit=- schedule=- secret=env:Y corp_id=- strategy_id=- app_id=- timeout=15s
        "#]],
    );
    check(
        &format!("prune: yes\n{JUZI}"),
        expect![[r#"
            error: tagsync.yaml:1:8: `prune` has the wrong type: found string "yes", expected a boolean
              hint: write `true` or `false` (unquoted)
        "#]],
    );
    check(
        &format!("max_deletes: \"5\"\n{JUZI}"),
        expect![[r#"
            error: tagsync.yaml:1:14: `max_deletes` has the wrong type: found string "5", expected a whole number from 0 to 4294967295
              hint: write a number without quotes
        "#]],
    );
    check(
        &format!("max_deletes: -1\n{JUZI}"),
        expect![[r#"
            error: tagsync.yaml:1:14: `max_deletes` has an invalid value: found signed int `-1`, expected a whole number from 0 to 4294967295
        "#]],
    );
    check(
        &format!("{JUZI}    rate_limit: 5\n"),
        expect![[r#"
            error: tagsync.yaml:7:17: `platforms.juzi-main.rate_limit` has the wrong type: found unsigned int `5`, expected a mapping (`key: value` lines)
              hint: write it as { per_second: 10, burst: 10 }
        "#]],
    );
    check(
        &format!("{JUZI}    mode: readonly\n"),
        expect![[r#"
            error: tagsync.yaml:7:11: `platforms.juzi-main.mode` cannot be "readonly"
              hint: one of: enforce, observe
        "#]],
    );
}

#[test]
fn yaml_mistakes() {
    check(
        &format!("max_deletes: 5\nmax_deletes: 6\n{JUZI}"),
        expect![[r#"
            error: tagsync.yaml:2:1: key `max_deletes` appears twice in this mapping
              hint: a key may appear only once in a mapping; remove one
        "#]],
    );
    check(
        &format!("tags: config/tags\n  prune: true\n{JUZI}"),
        expect![[r#"
            error: tagsync.yaml:2:8: mapping values are not allowed in this context
              hint: check this line's indentation, or quote a value that contains `: `
        "#]],
    );
    check(
        &format!("schedule: \"0 * * * * *\n{JUZI}"),
        expect![[r#"
            error: tagsync.yaml:1:11: unclosed quote
              hint: close it; a quote or bracket opened here is never closed
        "#]],
    );
}

#[test]
fn tag_context_defaults_to_the_platforms_that_can_write() {
    let s = load_str(
        "tagsync.yaml",
        include_str!("../../config/tagsync.example.yaml"),
    )
    .expect("the example is valid");
    let ctx = s.tag_context();
    let names = |set: &std::collections::BTreeSet<String>| {
        set.iter().cloned().collect::<Vec<_>>().join(",")
    };
    assert_eq!(
        names(&ctx.known_platforms),
        "crm,dustess,juzi-main,wecom-hq,yzj"
    );
    assert_eq!(
        names(&ctx.default_platforms),
        "dustess,juzi-main,wecom-hq,yzj"
    );
    assert!(!ctx.prune_default);
}

#[test]
fn select_names_unknown_platforms() {
    let s = load_str("tagsync.yaml", JUZI).expect("valid");
    assert_eq!(s.select(&[]).map(|v| v.len()), Ok(1));
    assert_eq!(
        s.select(&["juzi".into()]).map(|v| v.len()),
        Err(SelectError::Unknown {
            name: "juzi".into(),
            configured: vec!["juzi-main".into()]
        })
    );
    assert_eq!(
        s.select(&["juzi".into()]).unwrap_err().to_string(),
        "unknown platform \"juzi\"; configured: juzi-main"
    );
    // `--platform X --platform X` is X once.
    let twice = s.select(&["juzi-main".into(), "juzi-main".into()]).unwrap();
    assert_eq!(
        twice.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["juzi-main"]
    );
}

#[test]
fn load_checks_that_the_config_and_tags_exist() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let missing = dir.path().join("nope.yaml");
    let err = load(&missing).expect_err("no such file");
    assert!(
        err.to_string()
            .ends_with(": cannot read the configuration: no such file\n  hint: pass --config PATH or set TAGSYNC_CONFIG; config/tagsync.example.yaml is a start"),
        "{err}"
    );

    let config = dir.path().join("tagsync.yaml");
    let tags = dir.path().join("no-tags-here");
    std::fs::write(&config, format!("tags: {}\n{JUZI}", tags.display())).expect("write");
    let err = load(&config).expect_err("tags missing");
    assert_eq!(
        err.to_string(),
        format!(
            "error: {}:1:7: cannot read the tag files {:?}: no such file\n  hint: name a tag file or a directory of them; a relative path is taken from the directory tagsync runs in, not from the configuration file's",
            config.display(),
            tags.display().to_string()
        )
    );
    // `load_str` does not look at the file system.
    assert!(load_str("tagsync.yaml", &format!("tags: {}\n{JUZI}", tags.display())).is_ok());
}

#[test]
fn secrets_are_read_only_when_asked_and_named_when_missing() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("secret");
    std::fs::write(&file, "s3cret\n").expect("write");
    let read = SecretSource::File(file.clone())
        .read("p")
        .expect("readable");
    assert_eq!(secrecy::ExposeSecret::expose_secret(&read), "s3cret");

    std::fs::write(&file, "\n").expect("write");
    assert_eq!(
        SecretSource::File(file.clone())
            .read("p")
            .unwrap_err()
            .to_string(),
        format!("platform \"p\": secret_file {} is empty", file.display())
    );
    let gone = dir.path().join("gone");
    assert_eq!(
        SecretSource::File(gone.clone())
            .read("p")
            .unwrap_err()
            .to_string(),
        format!(
            "platform \"p\": cannot read secret_file {}: no such file",
            gone.display()
        )
    );
    assert_eq!(
        SecretSource::Env("TAGSYNC_UNIT_TEST_NEVER_SET_7F3A".into())
            .read("p")
            .unwrap_err()
            .to_string(),
        "platform \"p\": environment variable TAGSYNC_UNIT_TEST_NEVER_SET_7F3A is not set"
    );
}

const WECOM: &str = "
platforms:
  hq:
    kind: wecom
    base_url: https://qyapi.weixin.qq.com
    secret_env: WECOM_HQ_SECRET
";

#[test]
fn kind_settings_are_checked_against_the_kinds_descriptor() {
    // Nothing close: every key a platform of this kind accepts, its own last.
    check(
        &format!("{WECOM}    corp_id: ww01\n    colour: blue\n"),
        expect![[r#"
            error: tagsync.yaml:8:5: unknown key `platforms.hq.colour`
              hint: accepted keys here: kind, base_url, mode, rate_limit, schedule, secret_env, secret_file, timeout_seconds, corp_id, strategy_id
        "#]],
    );
    check(
        &format!("{WECOM}    corp_id: ww01\n    stratgy_id: 1\n"),
        expect![[r#"
            error: tagsync.yaml:8:5: unknown key `platforms.hq.stratgy_id`
              hint: did you mean `strategy_id`?
        "#]],
    );
    // The typed settings check types where they are written.
    check(
        &format!("{WECOM}    corp_id: ww01\n    strategy_id: first\n"),
        expect![[r#"
            error: tagsync.yaml:8:18: `platforms.hq.strategy_id` has the wrong type: found string "first", expected a whole number (0 or more)
              hint: write a number without quotes
        "#]],
    );
    check(
        &format!("{WECOM}    corp_id: \"  \"\n"),
        expect![[r#"
        error: tagsync.yaml:7:14: `corp_id` is empty
    "#]],
    );
    check(
        &format!("{WECOM}    corp_id: ww01\n    strategy_id: 7\n"),
        expect![[r#"
            database_url=sqlite://tagsync.db?mode=rwc tags=config/tags schedule="0 */5 * * * *" listen=127.0.0.1:9187 prune=false max_deletes=20
            hq: kind=wecom base_url=https://qyapi.weixin.qq.com/ mode=enforce rate_limit=- schedule=- secret=env:WECOM_HQ_SECRET corp_id=ww01 strategy_id=7 app_id=- timeout=15s
        "#]],
    );
}

/// `COMMON_KEYS` splits a platform's keys: it must be exactly the keys `RawPlatform` reads.
#[test]
fn common_keys_are_the_raw_platforms_fields() {
    let mut dict = Dict::new();
    dict.insert("no_such_key".into(), Value::from(1));
    let err = Value::from(dict).deserialize::<RawPlatform>().unwrap_err();
    match err.kind {
        figment::error::Kind::UnknownField(_, expected) => assert_eq!(expected, COMMON_KEYS),
        other => panic!("{other:?}"),
    }
}
