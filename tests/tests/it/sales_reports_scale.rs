//! Sales reports at scale (issue 17): the database groups, the rollups answer what they can
//! and the facts the rest, and the two always agree — for random ranges, grains and
//! dimensions, with days still waiting for their recompute — Σ buckets = Σ daily = total; the
//! cohort and coupon metrics match a plain computation over the same facts; each row carries
//! its previous period.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate};
use domain::auth::StaffPrincipal;
use domain::reports::{
    self, Dimension, Metric, ReportQuery, ReportResult, ReportSource, ReturnsBasis,
};
use domain::sales;
use entities::order::Channel;
use entities::sales_dirty_day;
use entities::sales_fact::{self, SalesEvent};
use rouge_tests::fixtures;
use rouge_tests::{Backend, TestApp, on_both_backends};
use sea_orm::{EntityTrait, Set};
use serde_json::json;

/// A small seeded generator (xorshift), so a failure replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[usize::try_from(self.below(from.len() as u64)).unwrap()]
    }
}

const START: &str = "2026-08-25";

/// Synthetic facts (orders of 1–3 lines over ~80 days, some with a coupon, some refunded
/// later in part), written as the sales module writes them, with their days queued.
async fn seed_facts(
    app: &TestApp,
    rng: &mut Rng,
    first_id: i64,
    n_orders: i64,
) -> Vec<sales_fact::Model> {
    let start = fixtures::date(START);
    let regions = [Some("310101"), Some("110105"), Some("440106"), None];
    let mut rows = Vec::new();
    let mut line_id = first_id * 10;
    for o in 0..n_orders {
        let order_id = first_id + o;
        let day = start + Duration::days(i64::try_from(rng.below(80)).unwrap());
        let store = rng.pick(&[Some(1_i64), Some(2), Some(3), None]);
        let ba = rng.pick(&[Some(11_i64), Some(12), Some(13), None]);
        let channel = rng.pick(&[Channel::InStore, Channel::Online]);
        let member = 100 + i64::try_from(rng.below(12)).unwrap();
        let region = regions[usize::try_from(member % 4).unwrap()];
        let coupon = rng.pick(&[None, None, Some(7_i64), Some(8)]);
        let campaign = rng.pick(&[None, Some(5_i64)]);
        for _ in 0..=rng.below(3) {
            line_id += 1;
            let sku = rng.pick(&[21_i64, 22, 23, 24]);
            let qty = i32::try_from(1 + rng.below(3)).unwrap();
            let gross = 10_000 * i64::from(qty);
            let discount = i64::try_from(rng.below(2_000)).unwrap();
            let coupon_fen = if coupon.is_some() { discount / 2 } else { 0 };
            let cost = 3_000 * i64::from(qty);
            let sale = sales_fact::Model {
                id: 0,
                fact_key: format!("SALE:{line_id}"),
                event: SalesEvent::Sale,
                order_id,
                order_line_id: line_id,
                refund_id: None,
                occurred_at: fixtures::shanghai_noon(&day.to_string()),
                business_date: day,
                sale_date: day,
                store_id: store,
                channel,
                ba_id: ba,
                exclusive_ba_id: None,
                member_id: member,
                sku_id: sku,
                product_id: sku / 2,
                category_id: sku % 2,
                campaign_id: campaign,
                coupon_template_id: coupon,
                region_code: region.map(str::to_owned),
                quantity: qty,
                gross_fen: gross,
                discount_fen: discount,
                coupon_discount_fen: coupon_fen,
                net_fen: gross - discount,
                cost_fen: cost,
            };
            if rng.below(5) == 0 {
                // One unit back a few days later.
                let back = day + Duration::days(i64::try_from(rng.below(20)).unwrap());
                let q = i64::from(qty);
                rows.push(sales_fact::Model {
                    fact_key: format!("REFUND:r{line_id}:{line_id}"),
                    event: SalesEvent::Refund,
                    refund_id: Some(line_id),
                    business_date: back,
                    occurred_at: fixtures::shanghai_noon(&back.to_string()),
                    quantity: -1,
                    gross_fen: -gross / q,
                    discount_fen: -discount / q,
                    coupon_discount_fen: -coupon_fen / q,
                    net_fen: -(gross - discount) / q,
                    cost_fen: -cost / q,
                    ..sale.clone()
                });
            }
            rows.push(sale);
        }
    }
    let days: BTreeSet<NaiveDate> = rows.iter().map(|f| f.business_date).collect();
    let models: Vec<sales_fact::ActiveModel> = rows
        .iter()
        .map(|f| {
            let mut a: sales_fact::ActiveModel = f.clone().into();
            a.id = sea_orm::ActiveValue::NotSet;
            a
        })
        .collect();
    for chunk in models.chunks(200) {
        sales_fact::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(app.db())
            .await
            .unwrap();
    }
    for f in rows.iter().filter(sold) {
        sales::keep_first_purchase(app.db(), f.member_id, f.business_date)
            .await
            .unwrap();
    }
    for day in days {
        sales_dirty_day::Entity::insert(sales_dirty_day::ActiveModel {
            business_date: Set(day),
            generation: Set(1),
            marked_at: Set(chrono::Utc::now()),
        })
        .on_conflict_do_nothing()
        .exec(app.db())
        .await
        .unwrap();
    }
    rows
}

fn query(
    metrics: &[Metric],
    group_by: &[Dimension],
    from: NaiveDate,
    to: NaiveDate,
) -> ReportQuery {
    ReportQuery {
        metrics: metrics.to_vec(),
        group_by: group_by.to_vec(),
        from,
        to,
        store_ids: None,
        compare: false,
        basis: ReturnsBasis::ReturnDate,
    }
}

async fn both(app: &TestApp, hq: &StaffPrincipal, q: &ReportQuery) -> (ReportResult, ReportResult) {
    let served = reports::sales_report(&app.state, hq, q).await.unwrap();
    let raw = reports::sales_report_from(&app.state, q, None, ReportSource::Facts)
        .await
        .unwrap();
    (served, raw)
}

fn fen_sum(r: &ReportResult, i: usize) -> i64 {
    r.rows
        .iter()
        .map(|row| row.values[i].fen.unwrap_or(0))
        .sum()
}

const ROLLUP_METRICS: [Metric; 7] = [
    Metric::NetRevenue,
    Metric::Margin,
    Metric::CouponDiscount,
    Metric::Units,
    Metric::Orders,
    Metric::MarginPct,
    Metric::AverageOrderValue,
];

async fn rollup_served_answers_equal_fact_served_ones(backend: Backend) {
    let app = TestApp::start(backend).await;
    let hq = fixtures::staff_principal(&app, "hq-demo").await;
    let mut rng = Rng(0x0017_5ca1e);
    seed_facts(&app, &mut rng, 1_000, 160).await;
    sales::recompute_dirty_days(&app.state, 1_000)
        .await
        .unwrap();
    // A few facts after the recompute: their days are dirty again and read from the facts.
    seed_facts(&app, &mut rng, 9_000, 6).await;
    let start = fixtures::date(START) - Duration::days(5);
    let ba_dims = [Dimension::Store, Dimension::Ba, Dimension::Channel];
    let sku_dims = [
        Dimension::Sku,
        Dimension::Product,
        Dimension::Category,
        Dimension::Store,
        Dimension::Channel,
    ];
    let category_dims = [Dimension::Category, Dimension::Store, Dimension::Channel];
    for round in 0..12 {
        let from = start + Duration::days(i64::try_from(rng.below(50)).unwrap());
        let to = from + Duration::days(i64::try_from(rng.below(70)).unwrap());
        let grain = rng.pick(&[Dimension::Day, Dimension::Week, Dimension::Month]);
        let (metrics, pool, expected): (&[Metric], &[Dimension], ReportSource) = match round % 3 {
            0 => (&ROLLUP_METRICS, &ba_dims, ReportSource::BaRollup),
            1 => (&ROLLUP_METRICS[..5], &sku_dims, ReportSource::SkuRollup),
            _ => (
                &ROLLUP_METRICS,
                &category_dims,
                ReportSource::CategoryRollup,
            ),
        };
        let metrics: Vec<Metric> = if expected == ReportSource::SkuRollup {
            metrics
                .iter()
                .copied()
                .filter(|m| *m != Metric::Orders)
                .collect()
        } else {
            metrics.to_vec()
        };
        let mut dims = vec![grain];
        match expected {
            // A SKU or product grouping is what the category rows cannot answer.
            ReportSource::SkuRollup => dims.push(rng.pick(&[Dimension::Sku, Dimension::Product])),
            ReportSource::CategoryRollup => dims.push(Dimension::Category),
            _ => {}
        }
        for _ in 0..rng.below(4 - dims.len() as u64) {
            let d = rng.pick(pool);
            if !dims.contains(&d) {
                dims.push(d);
            }
        }
        let q = query(&metrics, &dims, from, to);
        let (served, raw) = both(&app, &hq, &q).await;
        assert_eq!(served.source, expected, "{dims:?}");
        assert_eq!(raw.source, ReportSource::Facts);
        assert_eq!(served.rows, raw.rows, "rows of {dims:?} {from}..{to}");
        assert_eq!(served.totals, raw.totals, "totals of {dims:?} {from}..{to}");
        let daily = reports::sales_report(
            &app.state,
            &hq,
            &query(&metrics, &[Dimension::Day], from, to),
        )
        .await
        .unwrap();
        assert_eq!(
            daily.rows.len(),
            usize::try_from((to - from).num_days() + 1).unwrap()
        );
        for (i, m) in metrics.iter().enumerate() {
            if m.is_money() && *m != Metric::AverageOrderValue {
                let total = served.totals[i].fen.unwrap();
                assert_eq!(fen_sum(&served, i), total, "Σ buckets {m:?} {dims:?}");
                assert_eq!(fen_sum(&daily, i), total, "Σ daily {m:?}");
            }
        }
        let units = metrics.iter().position(|m| *m == Metric::Units).unwrap();
        let units_sum: f64 = served
            .rows
            .iter()
            .map(|r| r.values[units].number.unwrap())
            .sum();
        assert_eq!(Some(units_sum), served.totals[units].number);
    }
    // On the sale's date the rollups cannot answer: the facts do, and agree with the whole.
    let mut q = query(
        &[Metric::NetRevenue],
        &[Dimension::Month],
        start,
        start + Duration::days(120),
    );
    q.basis = ReturnsBasis::SaleDate;
    let (by_sale, _) = both(&app, &hq, &q).await;
    assert_eq!(by_sale.source, ReportSource::Facts);
    q.basis = ReturnsBasis::ReturnDate;
    let (by_return, _) = both(&app, &hq, &q).await;
    assert_eq!(
        by_sale.totals, by_return.totals,
        "every refund is in the range either way"
    );
}

fn sold(f: &&sales_fact::Model) -> bool {
    f.event != SalesEvent::Refund
}

/// The cohort and coupon metrics against a plain computation over the same facts.
async fn member_and_coupon_metrics_match_their_definitions(backend: Backend) {
    let app = TestApp::start(backend).await;
    let hq = fixtures::staff_principal(&app, "hq-demo").await;
    let mut rng = Rng(0x0017_0c0b);
    let facts = seed_facts(&app, &mut rng, 1_000, 120).await;
    let (from, to) = (fixtures::date("2026-09-01"), fixtures::date("2026-09-30"));
    let metrics = [
        Metric::NewMembers,
        Metric::RepurchaseRate,
        Metric::CouponRedemptions,
        Metric::CouponRoi,
        Metric::Members,
        Metric::NetRevenue,
    ];
    let r = reports::sales_report(&app.state, &hq, &query(&metrics, &[], from, to))
        .await
        .unwrap();
    assert_eq!(r.source, ReportSource::Facts);
    let in_range: Vec<sales_fact::Model> = facts
        .iter()
        .filter(|f| f.business_date >= from && f.business_date <= to)
        .cloned()
        .collect();
    let mut first: BTreeMap<i64, NaiveDate> = BTreeMap::new();
    for f in facts.iter().filter(sold) {
        let e = first.entry(f.member_id).or_insert(f.business_date);
        *e = (*e).min(f.business_date);
    }
    let new: BTreeSet<i64> = in_range
        .iter()
        .filter(sold)
        .filter(|f| first[&f.member_id] == f.business_date)
        .map(|f| f.member_id)
        .collect();
    let mut orders_of: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for f in in_range.iter().filter(sold) {
        orders_of.entry(f.member_id).or_default().insert(f.order_id);
    }
    let repeaters = orders_of.values().filter(|o| o.len() >= 2).count();
    let coupon_orders: BTreeSet<i64> = in_range
        .iter()
        .filter(sold)
        .filter(|f| f.coupon_template_id.is_some())
        .map(|f| f.order_id)
        .collect();
    let with_coupon = in_range.iter().filter(|f| f.coupon_template_id.is_some());
    let coupon_margin: i64 = with_coupon.clone().map(|f| f.net_fen - f.cost_fen).sum();
    let coupon_discount: i64 = in_range.iter().map(|f| f.coupon_discount_fen).sum();
    #[allow(clippy::cast_precision_loss)]
    let expected = [
        new.len() as f64,
        repeaters as f64 * 100.0 / orders_of.len() as f64,
        coupon_orders.len() as f64,
        coupon_margin as f64 / coupon_discount as f64,
        orders_of.len() as f64,
    ];
    for (i, want) in expected.iter().enumerate() {
        let got = r.totals[i].number.unwrap();
        assert!(
            (got - want).abs() < 1e-9,
            "{:?}: {got} ≠ {want}",
            metrics[i]
        );
    }
    assert!(
        new.len() < orders_of.len(),
        "some September buyers bought before"
    );
    assert!(repeaters > 0);
    // The new dimensions partition the money.
    let total = r.totals[5].fen.unwrap();
    for d in [
        Dimension::Province,
        Dimension::Campaign,
        Dimension::CouponTemplate,
        Dimension::Product,
        Dimension::Tier,
        Dimension::RfmSegment,
    ] {
        let by = reports::sales_report(
            &app.state,
            &hq,
            &query(&[Metric::NetRevenue], &[d], from, to),
        )
        .await
        .unwrap();
        assert_eq!(fen_sum(&by, 0), total, "{d:?}");
        if d == Dimension::Province {
            let labels: BTreeSet<&str> = by.rows.iter().map(|r| r.keys[0].label.as_str()).collect();
            assert!(
                labels.contains("上海市") || labels.contains("上海"),
                "{labels:?}"
            );
            assert!(by.rows.iter().any(|r| r.keys[0].key == "310000"));
        }
    }
    // Each row with the same keys in the previous period, over GraphQL.
    let gql = app.login_staff("hq-demo").await;
    let res = gql
        .ok(
            "query($q: ReportQuery!) { salesReport(query: $q) { servedFrom
               rows { keys { key } values { fen } previous { fen } change { number } } } }",
            json!({ "q": { "metrics": ["NET_REVENUE"], "groupBy": ["CHANNEL"], "from": "2026-10-01",
                "to": "2026-10-31", "compare": true } }),
        )
        .await;
    let report = &res["salesReport"];
    assert_eq!(report["servedFrom"], "BA_ROLLUP");
    let net = |from: NaiveDate, to: NaiveDate, ch: &str| -> i64 {
        facts
            .iter()
            .filter(|f| {
                f.business_date >= from && f.business_date <= to && f.channel.as_str() == ch
            })
            .map(|f| f.net_fen)
            .sum()
    };
    for row in report["rows"].as_array().unwrap() {
        let ch = row["keys"][0]["key"].as_str().unwrap();
        let now = net(
            fixtures::date("2026-10-01"),
            fixtures::date("2026-10-31"),
            ch,
        );
        let before = net(
            fixtures::date("2026-08-31"),
            fixtures::date("2026-09-30"),
            ch,
        );
        assert_eq!(row["values"][0]["fen"], now.to_string());
        assert_eq!(row["previous"][0]["fen"], before.to_string());
        #[allow(clippy::cast_precision_loss)]
        let change = (now - before) as f64 / before.abs() as f64;
        assert!((row["change"][0]["number"].as_f64().unwrap() - change).abs() < 1e-9);
    }
}

/// MEMBERS by month (and store) from the member-month rows where whole and recomputed, from the
/// facts elsewhere; NEW_MEMBERS from the kept first purchases: both equal a plain computation
/// over the same facts, before and after more facts leave some days waiting, with and without a
/// store scope, and their totals too.
#[allow(clippy::cast_precision_loss)]
async fn members_and_new_members_by_month_match_their_definitions(backend: Backend) {
    let app = TestApp::start(backend).await;
    let hq = fixtures::staff_principal(&app, "hq-demo").await;
    let mut rng = Rng(0x0017_3e3b);
    let mut facts = seed_facts(&app, &mut rng, 1_000, 150).await;
    sales::recompute_dirty_days(&app.state, 1_000)
        .await
        .unwrap();
    // August and November in part, September and October whole.
    let (from, to) = (fixtures::date("2026-08-20"), fixtures::date("2026-11-05"));
    let month_of = |d: NaiveDate| format!("{}", d.format("%Y-%m"));
    let check =
        |facts: &[sales_fact::Model], r: &ReportResult, by_store: bool, stores: Option<&[i64]>| {
            let mut first: BTreeMap<i64, NaiveDate> = BTreeMap::new();
            for f in facts.iter().filter(sold) {
                let e = first.entry(f.member_id).or_insert(f.business_date);
                *e = (*e).min(f.business_date);
            }
            let mut members: BTreeMap<(String, String), BTreeSet<i64>> = BTreeMap::new();
            let mut new: BTreeMap<(String, String), BTreeSet<i64>> = BTreeMap::new();
            let (mut all, mut all_new) = (BTreeSet::new(), BTreeSet::new());
            for f in facts.iter().filter(sold) {
                let in_scope =
                    stores.is_none_or(|ids| f.store_id.is_some_and(|s| ids.contains(&s)));
                if f.business_date < from || f.business_date > to || !in_scope {
                    continue;
                }
                let store = if by_store {
                    f.store_id.map(|s| s.to_string()).unwrap_or_default()
                } else {
                    String::new()
                };
                let key = (month_of(f.business_date), store);
                members.entry(key.clone()).or_default().insert(f.member_id);
                all.insert(f.member_id);
                if first[&f.member_id] == f.business_date {
                    new.entry(key).or_default().insert(f.member_id);
                    all_new.insert(f.member_id);
                }
            }
            let mut seen = 0;
            for row in &r.rows {
                let key = (
                    row.keys[0].key.clone(),
                    if by_store {
                        row.keys[1].key.clone()
                    } else {
                        String::new()
                    },
                );
                let want = members.get(&key).map_or(0, BTreeSet::len);
                let want_new = new.get(&key).map_or(0, BTreeSet::len);
                assert_eq!(row.values[0].number, Some(want as f64), "members {key:?}");
                assert_eq!(
                    row.values[1].number,
                    Some(want_new as f64),
                    "new members {key:?}"
                );
                seen += usize::from(want > 0);
            }
            assert_eq!(seen, members.len(), "every group with members has its row");
            assert_eq!(r.totals[0].number, Some(all.len() as f64));
            assert_eq!(r.totals[1].number, Some(all_new.len() as f64));
            assert!(!all_new.is_empty());
        };
    let metrics = [Metric::Members, Metric::NewMembers, Metric::NetRevenue];
    for round in 0..2 {
        for (dims, stores) in [
            (vec![Dimension::Month], None),
            (vec![Dimension::Month, Dimension::Store], None),
            (vec![Dimension::Month], Some(vec![1_i64, 2])),
        ] {
            let mut q = query(&metrics, &dims, from, to);
            q.store_ids = stores.clone();
            let r = reports::sales_report(&app.state, &hq, &q).await.unwrap();
            assert_eq!(r.source, ReportSource::BaRollup, "{dims:?}");
            check(&facts, &r, dims.len() == 2, stores.as_deref());
        }
        if round == 0 {
            // Later facts: their days wait for a recompute, and their months are read from the facts.
            facts.extend(seed_facts(&app, &mut rng, 9_000, 12).await);
            let waiting = sales_dirty_day::Entity::find().all(app.db()).await.unwrap();
            assert!(
                waiting
                    .iter()
                    .any(|d| d.business_date >= from && d.business_date <= to)
            );
        }
    }
}

on_both_backends!(
    rollup_served_answers_equal_fact_served_ones,
    member_and_coupon_metrics_match_their_definitions,
    members_and_new_members_by_month_match_their_definitions,
);
