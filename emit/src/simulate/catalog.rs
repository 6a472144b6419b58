//! The named scenarios. Each is normal operation plus the incidents that make it.

use super::fleet::JobKind;
use super::scenario::{Incident, IncidentKind, Routing, Scenario, TargetSel};

pub const SCENARIO_NAMES: [&str; 10] = [
    "quiet-week",
    "april-2022",
    "target-outage",
    "bad-host",
    "user-error-storm",
    "dns-outage",
    "cache-outage",
    "slow-burn",
    "small-region",
    "two-regions",
];

/// Where container builds and tests run before anyone moves them: most in `us-east-2`.
const NORMAL_ROUTING: &[(&str, f64)] =
    &[("us-east-2", 0.75), ("us-east-1", 0.15), ("fr-par", 0.05), ("us-central1", 0.05)];

/// The workers of `bad-host`, all in `us-east-1`.
pub const BAD_HOSTS: &[&str] = &["aws-use1-002", "aws-use1-005", "aws-use1-007"];

/// The scenario called `name`.
pub(crate) fn scenario(name: &str) -> Option<Scenario> {
    let (starts_at, days, incidents, extra_routing) = match name {
        "quiet-week" => ("2022-03-21T00:00:00Z", 7.0, vec![], vec![]),
        "april-2022" => ("2022-04-05T00:00:00Z", 3.5, april_2022(), april_2022_routing()),
        "target-outage" => (
            "2022-05-02T00:00:00Z",
            3.0,
            vec![Incident::new(
                IncidentKind::ServiceDown,
                None,
                TargetSel::Service("artifacts"),
                &[("2022-05-03T14:00:00Z", 1.0), ("2022-05-03T17:30:00Z", 1.0)],
                "the artifacts service is down: every region's uploads are refused",
            )],
            vec![],
        ),
        "bad-host" => (
            "2022-05-02T00:00:00Z",
            3.0,
            vec![Incident {
                workers: BAD_HOSTS,
                ..Incident::new(
                    IncidentKind::BadHost,
                    Some("us-east-1"),
                    TargetSel::Any,
                    &[("2022-05-03T06:00:00Z", 0.9), ("2022-05-04T06:00:00Z", 0.9)],
                    "three us-east-1 workers with a broken network interface",
                )
            }],
            vec![],
        ),
        "user-error-storm" => (
            "2022-05-02T00:00:00Z",
            3.0,
            vec![Incident {
                project: Some("acme-gateway"),
                ..Incident::new(
                    IncidentKind::UserErrorStorm,
                    Some("us-east-2"),
                    TargetSel::Any,
                    &[("2022-05-03T09:00:00Z", 0.95), ("2022-05-03T16:00:00Z", 0.95)],
                    "a broken commit on acme-gateway's main branch fails its builds",
                )
            }],
            vec![],
        ),
        "dns-outage" => (
            "2022-05-02T00:00:00Z",
            3.0,
            vec![Incident::new(
                IncidentKind::DnsFailure,
                Some("us-east-1"),
                TargetSel::Any,
                &[("2022-05-03T10:00:00Z", 0.85), ("2022-05-03T11:30:00Z", 0.85)],
                "the us-east-1 resolver fails most lookups",
            )],
            vec![],
        ),
        "cache-outage" => (
            "2022-05-02T00:00:00Z",
            3.0,
            vec![Incident::new(
                IncidentKind::ConnectTimeout,
                Some("fr-par"),
                TargetSel::Cache("fr-par"),
                &[("2022-05-03T02:00:00Z", 1.0), ("2022-05-03T08:00:00Z", 1.0)],
                "the fr-par Yocto shared-state cache servers are unreachable",
            )],
            vec![],
        ),
        // Hard for a detector: the failure rate creeps up over hours, so each window looks
        // much like the last and a baseline that learned from it would never alarm.
        "slow-burn" => (
            "2022-06-06T00:00:00Z",
            2.0,
            vec![Incident::new(
                IncidentKind::ConnectTimeout,
                Some("us-east-2"),
                TargetSel::Backend,
                &[("2022-06-06T12:00:00Z", 0.002), ("2022-06-06T22:00:00Z", 0.25), ("2022-06-07T04:00:00Z", 0.25)],
                "us-east-2's path to the backend degrades slowly over ten hours",
            )],
            vec![],
        ),
        // Hard for a detector: us-west-1 runs no container builds or tests, only its probes,
        // so each window holds few attempts.
        "small-region" => (
            "2022-06-06T00:00:00Z",
            2.0,
            vec![Incident::new(
                IncidentKind::ConnectTimeout,
                Some("us-west-1"),
                TargetSel::Backend,
                &[("2022-06-06T15:00:00Z", 0.3), ("2022-06-06T18:00:00Z", 0.3)],
                "us-west-1, a region with few jobs, cannot reach the backend",
            )],
            vec![],
        ),
        // Hard for a detector: two regions at once, so each has a sick peer.
        "two-regions" => (
            "2022-06-06T00:00:00Z",
            2.0,
            vec![
                Incident::new(
                    IncidentKind::ConnectTimeout,
                    Some("us-east-1"),
                    TargetSel::Backend,
                    &[("2022-06-06T14:00:00Z", 0.3), ("2022-06-06T18:00:00Z", 0.3)],
                    "us-east-1 cannot reach the backend",
                ),
                Incident::new(
                    IncidentKind::ConnectTimeout,
                    Some("fr-par"),
                    TargetSel::Backend,
                    &[("2022-06-06T14:30:00Z", 0.3), ("2022-06-06T18:00:00Z", 0.3)],
                    "fr-par cannot reach the backend either",
                ),
            ],
            vec![],
        ),
        _ => return None,
    };
    let mut routing = vec![
        Routing { at: starts_at, kind: JobKind::ContainerBuild, regions: NORMAL_ROUTING },
        Routing { at: starts_at, kind: JobKind::Test, regions: NORMAL_ROUTING },
    ];
    routing.extend(extra_routing);
    let name = SCENARIO_NAMES.into_iter().find(|n| *n == name)?;
    Some(Scenario { name, starts_at, days, incidents, routing })
}

/// The provider's timeline: first timeouts from us-east-2 at 23:00 on April 5, rising
/// through the morning of April 6, us-east-1 timeouts around 04:00 on April 7, recovery by
/// the morning of April 8.
fn april_2022() -> Vec<Incident> {
    vec![
        Incident::new(
            IncidentKind::ConnectTimeout,
            Some("us-east-2"),
            TargetSel::Backend,
            &[
                ("2022-04-05T23:00:00Z", 0.03),
                ("2022-04-06T06:00:00Z", 0.08),
                ("2022-04-06T11:00:00Z", 0.30),
                ("2022-04-06T14:00:00Z", 0.40),
                ("2022-04-07T04:00:00Z", 0.35),
                ("2022-04-07T12:00:00Z", 0.15),
                ("2022-04-07T20:00:00Z", 0.05),
                ("2022-04-08T06:00:00Z", 0.0),
            ],
            "TCP connects from AWS us-east-2 to the GCP backend hang",
        ),
        Incident::new(
            IncidentKind::ConnectTimeout,
            Some("us-east-1"),
            TargetSel::Backend,
            &[
                ("2022-04-07T01:00:00Z", 0.0),
                ("2022-04-07T04:00:00Z", 0.20),
                ("2022-04-07T09:00:00Z", 0.10),
                ("2022-04-07T16:00:00Z", 0.03),
                ("2022-04-08T06:00:00Z", 0.0),
            ],
            "TCP connects from AWS us-east-1 to the GCP backend time out",
        ),
    ]
}

/// 21:00 on April 6: container builds (and their tests) move to us-west-1 and online.net.
fn april_2022_routing() -> Vec<Routing> {
    const MOVED: &[(&str, f64)] = &[("us-west-1", 0.7), ("fr-par", 0.3)];
    vec![
        Routing { at: "2022-04-06T21:00:00Z", kind: JobKind::ContainerBuild, regions: MOVED },
        Routing { at: "2022-04-06T21:00:00Z", kind: JobKind::Test, regions: MOVED },
    ]
}
