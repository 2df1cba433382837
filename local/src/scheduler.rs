//! EventBridge Scheduler's part, which the emulator does not play: it stores schedules but
//! never runs them. [`LocalScheduler::fire_due`] invokes the target of every one-time
//! (`at(...)`) schedule of this stage that is due, with the schedule's input, as the scheduler
//! would, and deletes it afterwards when its `ActionAfterCompletion` is `DELETE`. A target
//! that fails keeps its schedule for the next round (the scheduler retries too). The runner
//! calls it every few seconds; tests call it with a later "now" to play time forward.

use std::collections::HashMap;

use anyhow::Context;
use aws_sdk_scheduler::types::ActionAfterCompletion;
use chrono::{DateTime, NaiveDateTime, Utc};

use crate::functions::EventFunction;

/// One schedule that fired.
#[derive(Debug, Clone)]
pub struct Fired {
    pub name: String,
    pub input: serde_json::Value,
    pub answer: serde_json::Value,
}

pub struct LocalScheduler {
    client: aws_sdk_scheduler::Client,
    /// `careflow-{stage}-`: the stage's schedules.
    prefix: String,
    /// Lambda function names (`careflow-{stage}-{crate}`) and what invoking them runs.
    targets: HashMap<String, EventFunction>,
}

impl LocalScheduler {
    /// `client` with the emulator administrator's credentials (the scheduler service's own
    /// view, not a function's).
    pub fn new(
        client: aws_sdk_scheduler::Client,
        stage: &str,
        targets: HashMap<String, EventFunction>,
    ) -> Self {
        Self {
            client,
            prefix: format!("careflow-{stage}-"),
            targets,
        }
    }

    /// Fires every enabled one-time schedule of the stage due at `now`, oldest first.
    pub async fn fire_due(&self, now: DateTime<Utc>) -> anyhow::Result<Vec<Fired>> {
        let mut due = Vec::new();
        let mut pages = self
            .client
            .list_schedules()
            .name_prefix(&self.prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for summary in page.context("ListSchedules")?.schedules() {
                let (Some(name), group) = (summary.name(), summary.group_name()) else {
                    continue;
                };
                let schedule = self
                    .client
                    .get_schedule()
                    .name(name)
                    .set_group_name(group.map(str::to_owned))
                    .send()
                    .await
                    .with_context(|| format!("GetSchedule {name}"))?;
                if schedule.state().map(|s| s.as_str()) == Some("DISABLED") {
                    continue;
                }
                let Some(at) = schedule.schedule_expression().and_then(one_time) else {
                    continue; // rate() and cron() schedules are the runner's own loops
                };
                if schedule
                    .schedule_expression_timezone()
                    .is_some_and(|tz| tz != "UTC")
                {
                    tracing::warn!(%name, "only UTC one-time schedules are fired locally");
                    continue;
                }
                if at <= now {
                    due.push((at, schedule));
                }
            }
        }
        due.sort_by_key(|(at, _)| *at);
        let mut fired = Vec::new();
        for (_, schedule) in due {
            let name = schedule.name().unwrap_or_default().to_owned();
            let Some(target) = schedule.target() else {
                continue;
            };
            let function = target.arn().rsplit(':').next().unwrap_or_default();
            let Some(invoke) = self.targets.get(function) else {
                tracing::warn!(%name, %function, "schedule targets no function of this stack");
                continue;
            };
            let input: serde_json::Value =
                serde_json::from_str(target.input().unwrap_or("{}")).context("schedule input")?;
            match invoke(input.clone()).await {
                Ok(answer) => {
                    if schedule.action_after_completion() == Some(&ActionAfterCompletion::Delete) {
                        self.client
                            .delete_schedule()
                            .name(&name)
                            .set_group_name(schedule.group_name().map(str::to_owned))
                            .send()
                            .await
                            .with_context(|| format!("DeleteSchedule {name}"))?;
                    }
                    fired.push(Fired {
                        name,
                        input,
                        answer,
                    });
                }
                Err(e) => {
                    tracing::warn!(%name, error = %e.safe_description(), "scheduled invocation failed; retried next round");
                }
            }
        }
        Ok(fired)
    }
}

/// The instant of `at(yyyy-mm-ddThh:mm:ss)`.
fn one_time(expression: &str) -> Option<DateTime<Utc>> {
    let inner = expression.strip_prefix("at(")?.strip_suffix(')')?;
    NaiveDateTime::parse_from_str(inner, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_time_expressions() {
        assert_eq!(
            one_time("at(2026-12-08T07:30:00)"),
            Some("2026-12-08T07:30:00Z".parse().unwrap())
        );
        assert_eq!(one_time("rate(1 minute)"), None);
        assert_eq!(one_time("at(tomorrow)"), None);
    }
}
