//! The README's reporting queries run against a real mirror after an apply, so the documentation
//! cannot drift from the schema.

use sqlx::Row;

use crate::juzibot_e2e::{desired, env};
use tagsync::sim::FaultSpec;

fn readme_queries() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut out = Vec::new();
    let mut in_sql = false;
    let mut current = String::new();
    for line in readme.lines() {
        match line.trim() {
            "```sql" => in_sql = true,
            "```" if in_sql => in_sql = false,
            _ if in_sql => {
                let code = line.split("--").next().unwrap_or("");
                current.push_str(code);
                current.push('\n');
                if code.trim_end().ends_with(';') {
                    out.push(std::mem::take(&mut current));
                }
            }
            _ => {}
        }
    }
    out
}

#[tokio::test]
async fn reporting_queries_run_on_sqlite() {
    let queries = readme_queries();
    assert!(queries.len() >= 5, "{queries:?}");
    let e = env(
        "groups:\n  - {name: 旧组, tags: [{name: 甲}]}\n",
        FaultSpec::default(),
    )
    .await;
    let d = desired("groups:\n  - {name: 新组, was: [旧组], tags: [甲, 乙]}\n");
    assert!(e.apply(&d).await.converged());
    let url = e.db_url();
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    for q in &queries {
        // The README's examples name the example config's platform; the test's is `juzi`.
        let q = &q.replace("'juzi-main'", "'juzi'");
        let rows = sqlx::query(q)
            .fetch_all(&pool)
            .await
            .unwrap_or_else(|err| panic!("{q}\n{err}"));
        if q.contains("v_current_tags") {
            let names: Vec<String> = rows
                .iter()
                .map(|r| r.get::<String, _>("tag_name"))
                .collect();
            assert_eq!(names.len(), 2, "{q}");
        }
        if q.contains("sum(api_calls)") {
            assert_eq!(rows.len(), 1);
        }
    }
}
