//! Billing: invoices from appointment events, priced from the fee schedule.
//!
//! Money is integer minor units plus an ISO 4217 currency; tax is configured in basis points
//! and rounded half up, once, on the subtotal.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "postgres")]
pub mod service;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    Open,
    Paid,
    Void,
}

impl InvoiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Paid => "paid",
            Self::Void => "void",
        }
    }
}

impl std::str::FromStr for InvoiceStatus {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "open" => Ok(Self::Open),
            "paid" => Ok(Self::Paid),
            "void" => Ok(Self::Void),
            _ => Err(crate::Error::invalid(
                "status",
                "must be open, paid or void",
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    pub description: String,
    pub quantity: u32,
    pub unit_amount: i64,
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub invoice_id: Uuid,
    /// `INV-{year}-{nnnnnn}`, gap-free per year.
    pub number: String,
    pub appointment_id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub status: InvoiceStatus,
    pub currency: String,
    pub subtotal: i64,
    pub tax: i64,
    pub amount_due: i64,
    pub line_items: Vec<LineItem>,
    pub issued_at: DateTime<Utc>,
    pub due_date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voided_at: Option<DateTime<Utc>>,
}

/// A fee schedule entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fee {
    pub currency: String,
    pub amount_minor: i64,
    pub description: String,
}

/// Subtotal, tax and total for one fee; `tax_basis_points` 2000 = 20 %.
pub fn price(fee: &Fee, tax_basis_points: u32) -> (Vec<LineItem>, i64, i64, i64) {
    let line = LineItem {
        description: fee.description.clone(),
        quantity: 1,
        unit_amount: fee.amount_minor,
        amount: fee.amount_minor,
    };
    let subtotal = line.amount;
    // Half up, in integers: (a·r + 5000) / 10000 for non-negative amounts.
    let tax = (subtotal * i64::from(tax_basis_points) + 5_000) / 10_000;
    (vec![line], subtotal, tax, subtotal + tax)
}

/// Billing settings from the environment: `CAREFLOW_TAX_RATE_BASIS_POINTS` (default 0) and
/// `CAREFLOW_INVOICE_DUE_DAYS` (default 30).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BillingSettings {
    pub tax_basis_points: u32,
    pub due_days: u32,
}

impl Default for BillingSettings {
    fn default() -> Self {
        Self {
            tax_basis_points: 0,
            due_days: 30,
        }
    }
}

impl BillingSettings {
    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        Ok(Self {
            tax_basis_points: crate::config::parsed_or("CAREFLOW_TAX_RATE_BASIS_POINTS", 0u32)?,
            due_days: crate::config::parsed_or("CAREFLOW_INVOICE_DUE_DAYS", 30u32)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tax_rounds_half_up_once() {
        let fee = Fee {
            currency: "USD".into(),
            amount_minor: 12_345,
            description: "x".into(),
        };
        assert_eq!(price(&fee, 0).1..=price(&fee, 0).3, 12_345..=12_345);
        let (_, subtotal, tax, total) = price(&fee, 2_000);
        assert_eq!((subtotal, tax, total), (12_345, 2_469, 14_814));
        // 12_345 × 7.5 % = 925.875 → 926.
        assert_eq!(price(&fee, 750).2, 926);
        // 100 × 0.5 % = 0.5 → 1 (half up).
        let cent = Fee {
            amount_minor: 100,
            ..fee
        };
        assert_eq!(price(&cent, 50).2, 1);
    }
}
