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

/// One line of an invoice, in minor units of the invoice's currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    pub description: String,
    pub quantity: u32,
    pub unit_amount: i64,
    pub amount: i64,
}

/// An invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub invoice_id: Uuid,
    /// `INV-{year}-{nnnnnn}`, gap-free per year.
    pub number: String,
    pub appointment_id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub status: InvoiceStatus,
    #[serde(flatten)]
    pub amounts: Amounts,
    pub line_items: Vec<LineItem>,
    pub issued_at: DateTime<Utc>,
    pub due_date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voided_at: Option<DateTime<Utc>>,
}

/// What an invoice comes to: [`Money`] of the invoice's one currency. The JSON shows it as
/// `currency` plus integer minor units (`subtotal`, `tax`, `amount_due`) among the invoice's
/// fields, and its line items in the same units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "AmountsJson", try_from = "AmountsJson")]
pub struct Amounts {
    pub subtotal: Money,
    pub tax: Money,
    pub amount_due: Money,
}

impl Amounts {
    /// Three amounts of `currency`, in its minor units.
    pub fn new(currency: Currency, subtotal: i64, tax: i64, amount_due: i64) -> Self {
        let money = |minor| Money::new(minor, currency.clone());
        Self {
            subtotal: money(subtotal),
            tax: money(tax),
            amount_due: money(amount_due),
        }
    }

    pub fn currency(&self) -> &Currency {
        &self.amount_due.currency
    }
}

#[derive(Serialize, Deserialize)]
struct AmountsJson {
    currency: String,
    subtotal: i64,
    tax: i64,
    amount_due: i64,
}

impl From<Amounts> for AmountsJson {
    fn from(a: Amounts) -> Self {
        Self {
            currency: a.currency().as_str().to_owned(),
            subtotal: a.subtotal.minor,
            tax: a.tax.minor,
            amount_due: a.amount_due.minor,
        }
    }
}

impl TryFrom<AmountsJson> for Amounts {
    type Error = crate::Error;

    fn try_from(j: AmountsJson) -> crate::Result<Self> {
        Ok(Self::new(
            j.currency.parse()?,
            j.subtotal,
            j.tax,
            j.amount_due,
        ))
    }
}

/// An ISO 4217 currency code: three upper-case ASCII letters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Currency(String);

impl Currency {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Currency {
    type Err = crate::Error;

    fn from_str(code: &str) -> crate::Result<Self> {
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(code.to_owned()))
        } else {
            Err(crate::Error::invalid(
                "currency",
                "must be an ISO 4217 code such as EUR",
            ))
        }
    }
}

/// An amount of money: integer minor units (cents) of one currency, never a float.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// `basis_points` of this amount (2000 = 20 %), rounded half up in integers.
    pub fn share(&self, basis_points: u32) -> Money {
        // (a·r + 5000) / 10000 for non-negative amounts.
        let minor = (self.minor * i64::from(basis_points) + 5_000) / 10_000;
        Money::new(minor, self.currency.clone())
    }

    /// The sum of two amounts of the same currency.
    pub fn plus(&self, other: &Money) -> crate::Result<Money> {
        if self.currency != other.currency {
            return Err(crate::Error::internal(format!(
                "adding {} to {}",
                other.currency.as_str(),
                self.currency.as_str()
            )));
        }
        Ok(Money::new(self.minor + other.minor, self.currency.clone()))
    }
}

/// A fee schedule entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fee {
    pub amount: Money,
    pub description: String,
}

/// What an invoice for one fee comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub lines: Vec<LineItem>,
    pub subtotal: Money,
    /// Rounded half up, once, on the subtotal.
    pub tax: Money,
    pub total: Money,
}

/// Subtotal, tax and total for one fee; `tax_basis_points` 2000 = 20 %.
pub fn price(fee: &Fee, tax_basis_points: u32) -> crate::Result<Priced> {
    let line = LineItem {
        description: fee.description.clone(),
        quantity: 1,
        unit_amount: fee.amount.minor,
        amount: fee.amount.minor,
    };
    let subtotal = fee.amount.clone();
    let tax = subtotal.share(tax_basis_points);
    let total = subtotal.plus(&tax)?;
    Ok(Priced {
        lines: vec![line],
        subtotal,
        tax,
        total,
    })
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
    /// `CAREFLOW_TAX_RATE_BASIS_POINTS` (0) and `CAREFLOW_INVOICE_DUE_DAYS` (30).
    pub fn from_vars(vars: &crate::config::Vars) -> Result<Self, crate::config::ConfigError> {
        Ok(Self {
            tax_basis_points: vars.parsed_or("CAREFLOW_TAX_RATE_BASIS_POINTS", 0u32)?,
            due_days: vars.parsed_or("CAREFLOW_INVOICE_DUE_DAYS", 30u32)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(minor: i64) -> Money {
        Money::new(minor, "USD".parse().unwrap())
    }

    #[test]
    fn an_invoice_shows_its_amounts_as_currency_and_minor_units() {
        let invoice = Invoice {
            invoice_id: Uuid::nil(),
            number: "INV-2026-000001".into(),
            appointment_id: Uuid::nil(),
            patient_id: Uuid::nil(),
            doctor_id: Uuid::nil(),
            status: InvoiceStatus::Open,
            amounts: Amounts::new("EUR".parse().unwrap(), 10_000, 2_000, 12_000),
            line_items: vec![],
            issued_at: DateTime::UNIX_EPOCH,
            due_date: NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
            paid_at: None,
            voided_at: None,
        };
        let json = serde_json::to_value(&invoice).unwrap();
        assert_eq!(json["currency"], "EUR");
        let minor = |k: &str| json[k].as_i64();
        assert_eq!(
            (minor("subtotal"), minor("tax"), minor("amount_due")),
            (Some(10_000), Some(2_000), Some(12_000))
        );
        assert!(json.get("amounts").is_none());
        let back: Invoice = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, invoice);
        let mut lower = json;
        lower["currency"] = "eur".into();
        assert!(serde_json::from_value::<Invoice>(lower).is_err());
    }

    #[test]
    fn tax_rounds_half_up_once() {
        let fee = Fee {
            amount: usd(12_345),
            description: "x".into(),
        };
        let untaxed = price(&fee, 0).unwrap();
        assert_eq!((untaxed.tax.minor, untaxed.total.minor), (0, 12_345));
        let p = price(&fee, 2_000).unwrap();
        assert_eq!(
            (p.subtotal.minor, p.tax.minor, p.total.minor),
            (12_345, 2_469, 14_814)
        );
        assert_eq!(p.total.currency.as_str(), "USD");
        // 12_345 × 7.5 % = 925.875 → 926.
        assert_eq!(price(&fee, 750).unwrap().tax.minor, 926);
        // 100 × 0.5 % = 0.5 → 1 (half up).
        let cent = Fee {
            amount: usd(100),
            ..fee
        };
        assert_eq!(price(&cent, 50).unwrap().tax.minor, 1);
    }

    #[test]
    fn money_is_typed() {
        assert!("usd".parse::<Currency>().is_err());
        assert!("EURO".parse::<Currency>().is_err());
        let eur = Money::new(1, "EUR".parse().unwrap());
        assert!(usd(1).plus(&eur).is_err());
        assert_eq!(usd(1).plus(&usd(2)).unwrap(), usd(3));
    }
}
