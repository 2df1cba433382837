//! S3 uploads to lab-processor, as AWS delivers them.
//!
//! In AWS, the `S3` event of `LabProcessorFunction` makes S3 invoke the function with the S3
//! event JSON. The emulator cannot invoke a function in this process, but it sends bucket
//! notifications to SQS with the very same JSON as the message body. So the runner creates the
//! template's `LabReportsBucket` (versioned), a queue, and a notification configuration with
//! the function's event filter (ObjectCreated, prefix and suffix read from template.yaml), then
//! polls the queue and hands each message to lab-processor's handler. A message is deleted only
//! after the handler succeeded; otherwise it becomes visible again and is retried, as Lambda
//! retries a failed asynchronous invocation.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_lambda_events::s3::S3Event;
use aws_sdk_s3::types::{
    BucketVersioningStatus, CreateBucketConfiguration, Event, FilterRule, FilterRuleName,
    NotificationConfiguration, NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
    VersioningConfiguration,
};
use aws_sdk_sqs::types::QueueAttributeName;
use lab_processor::{BatchReport, LabProcessor};
use serde_norway::Value as Yaml;

/// The lab bucket and the processor's event filter, as template.yaml declares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabBucket {
    pub name: String,
    pub prefix: String,
    pub suffix: String,
}

impl LabBucket {
    /// Reads `LabReportsBucket` (its `BucketName`, `${Stage}` and `${AWS::AccountId}`
    /// substituted) and the `S3` event filter of the function whose binary is `lab-processor`.
    pub fn from_template(path: &Path, stage: &str, account_id: &str) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
        let doc: Yaml = serde_norway::from_str(&text)?;
        let resources = &doc["Resources"];
        let bucket = &resources["LabReportsBucket"];
        anyhow::ensure!(
            bucket["Type"].as_str() == Some("AWS::S3::Bucket"),
            "template.yaml declares no LabReportsBucket"
        );
        let pattern = match &bucket["Properties"]["BucketName"] {
            Yaml::Tagged(tagged) => tagged.value.as_str().map(str::to_owned),
            other => other.as_str().map(str::to_owned),
        }
        .context("LabReportsBucket has no BucketName")?;
        let name = pattern
            .replace("${Stage}", stage)
            .replace("${AWS::AccountId}", account_id);
        let (mut prefix, mut suffix) = (String::new(), String::new());
        let function = resources
            .as_mapping()
            .into_iter()
            .flatten()
            .map(|(_, r)| r)
            .find(|r| r["Metadata"]["BuildProperties"]["Binary"].as_str() == Some("lab-processor"))
            .context("template.yaml has no lab-processor function")?;
        let event = function["Properties"]["Events"]
            .as_mapping()
            .into_iter()
            .flatten()
            .map(|(_, e)| e)
            .find(|e| e["Type"].as_str() == Some("S3"))
            .context("lab-processor has no S3 event")?;
        for rule in event["Properties"]["Filter"]["S3Key"]["Rules"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            let value = rule["Value"].as_str().unwrap_or_default().to_owned();
            match rule["Name"].as_str() {
                Some("prefix") => prefix = value,
                Some("suffix") => suffix = value,
                _ => {}
            }
        }
        Ok(Self {
            name,
            prefix,
            suffix,
        })
    }
}

/// The queue poller that feeds lab-processor.
pub struct S3Relay {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    processor: Arc<LabProcessor>,
}

impl S3Relay {
    /// Creates the bucket (versioned), the queue and the bucket notification; existing ones
    /// are reused.
    pub async fn setup(
        sdk: &aws_config::SdkConfig,
        bucket: &LabBucket,
        queue_name: &str,
        processor: Arc<LabProcessor>,
    ) -> anyhow::Result<Self> {
        let s3 = careflow::lab::objects::client_for(sdk);
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let mut create = s3.create_bucket().bucket(&bucket.name);
        if !region.is_empty() && region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(region.as_str().into())
                    .build(),
            );
        }
        if let Err(e) = create.send().await {
            let owned = e.as_service_error().is_some_and(|e| {
                e.is_bucket_already_owned_by_you() || e.is_bucket_already_exists()
            });
            anyhow::ensure!(
                owned,
                "creating bucket {}: {}",
                bucket.name,
                aws_sdk_s3::error::DisplayErrorContext(e)
            );
        }
        s3.put_bucket_versioning()
            .bucket(&bucket.name)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_s3::error::DisplayErrorContext(e)))?;
        let queue_url = sqs
            .create_queue()
            .queue_name(queue_name)
            .attributes(QueueAttributeName::VisibilityTimeout, "30")
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_sqs::error::DisplayErrorContext(e)))?
            .queue_url
            .context("no queue URL")?;
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_sqs::error::DisplayErrorContext(e)))?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .context("no queue ARN")?;
        let mut rules = Vec::new();
        for (name, value) in [
            (FilterRuleName::Prefix, &bucket.prefix),
            (FilterRuleName::Suffix, &bucket.suffix),
        ] {
            if !value.is_empty() {
                rules.push(FilterRule::builder().name(name).value(value).build());
            }
        }
        let queue = QueueConfiguration::builder()
            .id("lab-processor")
            .queue_arn(queue_arn)
            .events(Event::from("s3:ObjectCreated:*"))
            .filter(
                NotificationConfigurationFilter::builder()
                    .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
                    .build(),
            )
            .build()?;
        s3.put_bucket_notification_configuration()
            .bucket(&bucket.name)
            .notification_configuration(
                NotificationConfiguration::builder()
                    .queue_configurations(queue)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_s3::error::DisplayErrorContext(e)))?;
        Ok(Self {
            sqs,
            queue_url,
            processor,
        })
    }

    /// Receives once (long-polling up to `wait`) and delivers what came. Returns the batch
    /// reports of the S3 events delivered (test events are dropped).
    pub async fn poll_once(&self, wait: Duration) -> anyhow::Result<Vec<BatchReport>> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
        let mut reports = Vec::new();
        for message in out.messages.unwrap_or_default() {
            let body = message.body().unwrap_or_default();
            let mut value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            complete_records(&mut value);
            let delete = if value.get("Records").is_none() {
                // s3:TestEvent when the configuration is set, or something that is not ours.
                true
            } else {
                match serde_json::from_value::<S3Event>(value) {
                    Ok(event) => match self.processor.handle(event).await {
                        Ok(report) => {
                            reports.push(report);
                            true
                        }
                        Err(e) => {
                            tracing::warn!(error = %e.safe_description(), "lab-processor failed; the message will be redelivered");
                            false
                        }
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "an SQS message that is not an S3 event");
                        true
                    }
                }
            };
            if delete && let Some(handle) = message.receipt_handle() {
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!("{}", aws_sdk_sqs::error::DisplayErrorContext(e))
                    })?;
            }
        }
        Ok(reports)
    }

    /// Polls until the process ends.
    pub fn spawn(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                if let Err(e) = self.poll_once(Duration::from_secs(1)).await {
                    tracing::warn!(error = %e, "S3 relay poll failed");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        })
    }
}

/// Adds the record fields AWS always sends and the emulator leaves out (`userIdentity`,
/// `requestParameters`, `responseElements`), so the handler gets AWS's shape.
fn complete_records(event: &mut serde_json::Value) {
    let Some(records) = event.get_mut("Records").and_then(|r| r.as_array_mut()) else {
        return;
    };
    for record in records.iter_mut().filter_map(|r| r.as_object_mut()) {
        record
            .entry("userIdentity")
            .or_insert_with(|| serde_json::json!({"principalId": "AWS:LOCAL"}));
        record
            .entry("requestParameters")
            .or_insert_with(|| serde_json::json!({"sourceIPAddress": "127.0.0.1"}));
        record
            .entry("responseElements")
            .or_insert_with(|| serde_json::json!({}));
    }
}

/// The emulator's account id, which `${AWS::AccountId}` stands for locally.
pub const LOCAL_ACCOUNT_ID: &str = "123456789012";

/// Creates the template's lab bucket (named `aws.lab_bucket`), a queue `queue_name` and the
/// bucket notification with the administrator's credentials, and wires lab-processor to them,
/// built by its own `from_vars` from its template environment with `local` on top. The
/// extraction child is this binary (`main` calls `run_child_if_requested`) unless
/// `CAREFLOW_EXTRACT_PROGRAM` names another.
pub async fn start_lab_relay(
    template: &Path,
    aws: &crate::aws::AwsFunctions,
    local: &std::collections::BTreeMap<String, String>,
    queue_name: &str,
) -> anyhow::Result<Arc<S3Relay>> {
    let bucket = LabBucket {
        name: aws.lab_bucket.clone(),
        ..LabBucket::from_template(template, "local", LOCAL_ACCOUNT_ID)?
    };
    let admin = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let program = match std::env::var_os("CAREFLOW_EXTRACT_PROGRAM") {
        Some(p) => p.into(),
        None => std::env::current_exe()?,
    };
    let processor =
        LabProcessor::with_extractor(aws.identities.vars("lab-processor", local)?, program).await?;
    let relay = S3Relay::setup(&admin, &bucket, queue_name, Arc::new(processor)).await?;
    Ok(Arc::new(relay))
}
