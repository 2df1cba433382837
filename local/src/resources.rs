//! Creates the stores `template.yaml` declares in the local AWS emulator, as CloudFormation
//! would: same keys and indexes, so the functions meet the table they meet in AWS.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};

use crate::template::{KeyElement, Table};

fn keys(elements: &[KeyElement]) -> anyhow::Result<Vec<KeySchemaElement>> {
    elements
        .iter()
        .map(|k| {
            Ok(KeySchemaElement::builder()
                .attribute_name(&k.name)
                .key_type(KeyType::from(k.key_type.as_str()))
                .build()?)
        })
        .collect()
}

/// Creates `table` under `name`; an existing table of that name is left as it is.
pub async fn create_table(client: &Client, table: &Table, name: &str) -> anyhow::Result<()> {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(keys(&table.keys)?));
    for (attribute, kind) in &table.attributes {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(ScalarAttributeType::from(kind.as_str()))
                .build()?,
        );
    }
    for index in &table.indexes {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&index.name)
                .set_key_schema(Some(keys(&index.keys)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(index.projection.as_str()))
                        .build(),
                )
                .build()?,
        );
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(anyhow::anyhow!(
            "creating table {name}: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(e)
        )),
    }
}

/// A DynamoDB client for the emulator named by `AWS_ENDPOINT_URL` (or real AWS if unset).
pub async fn dynamodb_client() -> Client {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Client::new(&config)
}

/// EventBridge Scheduler with the administrator's credentials (the runner's scheduler).
pub async fn scheduler_client() -> aws_sdk_scheduler::Client {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    aws_sdk_scheduler::Client::new(&config)
}

/// Makes the domain of `sender` a verified SES identity in the emulator, as the deployment's
/// DNS records make it in AWS (terraform/modules/careflow): SES refuses to send from an
/// unverified sender, and so does the emulator. Creating it again changes nothing.
pub async fn verify_sender_domain(sender: &str) -> anyhow::Result<()> {
    let domain = sender
        .rsplit_once('@')
        .map(|(_, d)| d)
        .ok_or_else(|| anyhow::anyhow!("{sender} is not an e-mail address"))?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let ses = aws_sdk_sesv2::Client::new(&config);
    match ses
        .create_email_identity()
        .email_identity(domain)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_already_exists_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(anyhow::anyhow!(
            "creating the SES identity {domain}: {}",
            aws_sdk_sesv2::error::DisplayErrorContext(e)
        )),
    }
}
