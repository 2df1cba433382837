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
