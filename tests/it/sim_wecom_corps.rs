//! The WeCom simulator serving many corps at once (`sim::wecom::Corps`), over real loopback HTTP:
//! each corp its own secret, tokens, tags and rate limit; a token reaches only its own corp.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tagsync::sim::wecom::{Corp, Corps};
use tagsync::sim::{self, Fixture, SimHandle, SimOptions, SimPlatform, SystemClock};

fn corp(id: &str, secret: &str, group: &str) -> Fixture {
    serde_json::from_value(json!({
        "token": secret,
        "corpId": id,
        "groups": [{"name": group, "tags": [{"name": format!("{group}-tag")}]}],
    }))
    .unwrap()
}

async fn two_corps(faults: &str) -> SimHandle {
    let h = sim::start(
        SimPlatform::Wecom,
        SimOptions {
            fixture: corp("wwcorpa", "secret-a", "GA"),
            faults: faults.parse().unwrap(),
            ..SimOptions::default()
        },
    )
    .await
    .unwrap();
    h.with_state(|c: &mut Corps| c.add(&corp("wwcorpb", "secret-b", "GB"), Arc::new(SystemClock)))
        .unwrap()
        .unwrap();
    h
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

async fn gettoken(h: &SimHandle, corpid: &str, secret: &str) -> Value {
    http()
        .get(format!("{}/cgi-bin/gettoken", h.base_url()))
        .query(&[("corpid", corpid), ("corpsecret", secret)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn token(h: &SimHandle, corpid: &str, secret: &str) -> String {
    let t = gettoken(h, corpid, secret).await;
    assert_eq!(t["errcode"], 0, "{t}");
    t["access_token"].as_str().unwrap().to_owned()
}

async fn post(h: &SimHandle, api: &str, token: &str, body: Value) -> Value {
    http()
        .post(format!("{}/cgi-bin/externalcontact/{api}", h.base_url()))
        .query(&[("access_token", token)])
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn group_names(list: &Value) -> Vec<String> {
    list["tag_group"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["group_name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn each_corp_has_its_own_tags_and_a_token_reaches_only_its_own_corp() {
    let h = two_corps("none").await;
    let a = token(&h, "wwcorpa", "secret-a").await;
    let b = token(&h, "wwcorpb", "secret-b").await;
    assert_ne!(a, b, "tokens never collide across corps");

    assert_eq!(
        group_names(&post(&h, "get_corp_tag_list", &a, json!({})).await),
        ["GA"]
    );
    assert_eq!(
        group_names(&post(&h, "get_corp_tag_list", &b, json!({})).await),
        ["GB"]
    );

    // A write with A's token changes A only.
    let added = post(
        &h,
        "add_corp_tag",
        &a,
        json!({"group_name": "GA2", "tag": [{"name": "x"}]}),
    )
    .await;
    assert_eq!(added["errcode"], 0, "{added}");
    assert_eq!(
        h.with_state(|c: &mut Corps| c.corp("wwcorpa").unwrap().groups().len()),
        Some(2)
    );
    assert_eq!(
        h.with_state(|c: &mut Corps| c.corp("wwcorpb").unwrap().groups().len()),
        Some(1)
    );

    // Each corp counts its own ids (as WeCom's are per corp): B's third group has an id that A
    // has not made. A's token cannot reach it (40068), and nothing changes in B.
    for name in ["GB2", "GB3"] {
        let made = post(
            &h,
            "add_corp_tag",
            &b,
            json!({"group_name": name, "tag": [{"name": "y"}]}),
        )
        .await;
        assert_eq!(made["errcode"], 0, "{made}");
    }
    let b_group = h
        .with_state(|c: &mut Corps| c.corp("wwcorpb").unwrap().groups()[2].id.clone())
        .unwrap();
    let refused = post(&h, "del_corp_tag", &a, json!({"group_id": [b_group]})).await;
    assert_eq!(refused["errcode"], 40068, "{refused}");
    assert_eq!(
        h.with_state(|c: &mut Corps| c.corp("wwcorpb").unwrap().tag_count()),
        Some(3)
    );

    // The fixture's corp is still what `with_state::<Corp>` reaches, as for a single corp.
    assert_eq!(h.with_state(|c: &mut Corp| c.tag_count()), Some(2));
}

#[tokio::test]
async fn a_corp_secret_works_only_with_its_own_corp_id_and_a_revoked_token_only_fails_its_corp() {
    let h = two_corps("none").await;
    // A's secret for B's corp ID, and an unknown corp ID.
    assert_eq!(gettoken(&h, "wwcorpb", "secret-a").await["errcode"], 40001);
    assert_eq!(gettoken(&h, "wwnobody", "secret-a").await["errcode"], 40013);
    let a = token(&h, "wwcorpa", "secret-a").await;
    let b = token(&h, "wwcorpb", "secret-b").await;
    h.with_state(|c: &mut Corps| c.corp_mut("wwcorpb").unwrap().revoke_tokens())
        .unwrap();
    assert_eq!(
        post(&h, "get_corp_tag_list", &b, json!({})).await["errcode"],
        40014
    );
    assert_eq!(
        post(&h, "get_corp_tag_list", &a, json!({})).await["errcode"],
        0
    );
    // A made-up token shaped like B's reaches no corp.
    let forged = format!("wwcorpb-{}", a);
    assert_eq!(
        post(&h, "get_corp_tag_list", &forged, json!({})).await["errcode"],
        40014
    );
    // Adding a corp twice, or one without a corp ID, is refused.
    let again = h
        .with_state(|c: &mut Corps| c.add(&corp("wwcorpb", "s", "G"), Arc::new(SystemClock)))
        .unwrap();
    assert!(again.is_err());
    let nameless = h
        .with_state(|c: &mut Corps| c.add(&Fixture::default(), Arc::new(SystemClock)))
        .unwrap();
    assert!(nameless.is_err());
    assert_eq!(h.with_state(|c: &mut Corps| c.len()), Some(2));
}

#[tokio::test]
async fn one_corp_using_up_its_rate_limit_leaves_the_others_alone() {
    let h = two_corps("rps=3").await;
    let a = token(&h, "wwcorpa", "secret-a").await;
    let b = token(&h, "wwcorpb", "secret-b").await;
    // Let the token calls leave the window, then use up A's limit: B's calls all pass. (That A's
    // fourth call in one second is refused is unit-tested on explicit instants in `sim::faults`.)
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut a_codes = Vec::new();
    for _ in 0..6 {
        a_codes.push(post(&h, "get_corp_tag_list", &a, json!({})).await["errcode"].clone());
    }
    for _ in 0..3 {
        assert_eq!(
            post(&h, "get_corp_tag_list", &b, json!({})).await["errcode"],
            0
        );
    }
    assert!(
        a_codes.contains(&json!(45009)),
        "six calls in a second exceed A's three: {a_codes:?}"
    );
}
