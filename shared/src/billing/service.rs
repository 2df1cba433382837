//! Invoices in PostgreSQL: applying appointment events exactly once, and the invoice endpoints.

use chrono::{Datelike, Duration, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

use super::{BillingSettings, Fee, Invoice, InvoiceStatus, LineItem, Money, price};
use crate::auth::Caller;
use crate::db::{self, PgPool};
use crate::db::{column, enum_column};
pub use crate::events::ApplyError;
use crate::events::{AppointmentCancelled, AppointmentCreated, AppointmentEvent};
use crate::pagination::Page;
use crate::policy;
use crate::{Error, Result};

const COLUMNS: &str = "id, number, appointment_id, patient_id, doctor_id, status, currency, subtotal_minor, \
                       tax_minor, amount_due, line_items, issued_at, due_date, paid_at, voided_at";

fn from_row(row: &Row) -> Result<Invoice> {
    let line_items: serde_json::Value = column(row, "line_items")?;
    let currency: String = column(row, "currency")?;
    let currency: super::Currency = currency
        .parse()
        .map_err(|_| Error::internal(format!("invoice currency {currency:?}")))?;
    Ok(Invoice {
        invoice_id: column(row, "id")?,
        number: column(row, "number")?,
        appointment_id: column(row, "appointment_id")?,
        patient_id: column(row, "patient_id")?,
        doctor_id: column(row, "doctor_id")?,
        status: enum_column(row, "status")?,
        amounts: super::Amounts::new(
            currency,
            column(row, "subtotal_minor")?,
            column(row, "tax_minor")?,
            column(row, "amount_due")?,
        ),
        line_items: serde_json::from_value::<Vec<LineItem>>(line_items).map_err(Error::internal)?,
        issued_at: column(row, "issued_at")?,
        due_date: column(row, "due_date")?,
        paid_at: column(row, "paid_at")?,
        voided_at: column(row, "voided_at")?,
    })
}

/// What applying one event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Invoiced(Uuid),
    /// The appointment was cancelled before its create arrived: nothing to bill.
    SkippedCancelled,
    /// An invoice for this appointment exists already (another event, same appointment).
    AlreadyInvoiced,
    Voided(Uuid),
    /// A cancel for a paid invoice: it stays paid (refunds are a separate process).
    PaidNotVoided(Uuid),
    /// A cancel with no invoice yet, or for one already void: remembered, nothing else.
    CancelRecorded,
    /// The event id was processed before: nothing changed.
    Duplicate,
    /// A move to another time: same doctor, patient and type, so the invoice (if any yet)
    /// keeps its amount and stays as it is.
    Rescheduled,
    /// Attendance or a no-show was recorded: the invoice stands either way (a no-show fee is
    /// a clinic's policy, not modelled).
    AttendanceRecorded,
}

/// Filters of `GET /invoices`.
#[derive(Debug, Clone, Default)]
pub struct InvoiceFilter {
    pub status: Option<InvoiceStatus>,
    pub from: Option<chrono::DateTime<Utc>>,
    pub to: Option<chrono::DateTime<Utc>>,
}

#[derive(Clone)]
pub struct Billing {
    pool: PgPool,
    settings: BillingSettings,
}

/// The database and [`BillingSettings::from_vars`].
impl crate::config::FromVars for Billing {
    async fn build(vars: &crate::config::Vars) -> Result<Self, crate::config::ConfigError> {
        let pool = db::DbConfig::from_vars(vars).await?.pool()?;
        Ok(Self::new(pool, BillingSettings::from_vars(vars)?))
    }
}

impl Billing {
    pub fn new(pool: PgPool, settings: BillingSettings) -> Self {
        Self { pool, settings }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies one `appointments` record value in one transaction, recording its event id, so
    /// any number of deliveries have the effect of one.
    pub async fn apply(&self, value: &[u8]) -> Result<Applied, ApplyError> {
        let raw = AppointmentEvent::decode(value)?;
        let event = &raw.event;
        let mut client = db::client(&self.pool).await?;
        let tx = client.transaction().await?;
        // A create and a cancel of one appointment never interleave, whichever pollers carry
        // them (today one partition does, since both are keyed by doctor).
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 5011))",
            &[&event.appointment_id().to_string()],
        )
        .await?;
        let fresh = tx
            .execute(
                "INSERT INTO processed_events (event_id, event_type, outcome) VALUES ($1, $2, 'pending')
                 ON CONFLICT (event_id) DO NOTHING",
                &[&raw.event_id, &event.event_type()],
            )
            .await?;
        if fresh == 0 {
            return Ok(Applied::Duplicate);
        }
        let applied = match event {
            AppointmentEvent::Created(created) => self.invoice(&tx, raw.event_id, created).await?,
            AppointmentEvent::Rescheduled(_) => Applied::Rescheduled,
            AppointmentEvent::Attended(_) | AppointmentEvent::NoShow(_) => {
                Applied::AttendanceRecorded
            }
            AppointmentEvent::Cancelled(cancelled) => void(&tx, raw.event_id, cancelled).await?,
        };
        tx.execute(
            "UPDATE processed_events SET outcome = $2 WHERE event_id = $1",
            &[&raw.event_id, &format!("{applied:?}")],
        )
        .await?;
        tx.commit().await?;
        Ok(applied)
    }

    async fn invoice(
        &self,
        tx: &db::Transaction<'_>,
        event_id: Uuid,
        e: &AppointmentCreated,
    ) -> Result<Applied, ApplyError> {
        let cancelled = tx
            .query_opt(
                "SELECT 1 FROM cancelled_appointments WHERE appointment_id = $1",
                &[&e.appointment_id],
            )
            .await?;
        if cancelled.is_some() {
            return Ok(Applied::SkippedCancelled);
        }
        // Checked before a number is taken, so duplicates never burn one.
        let existing = tx
            .query_opt(
                "SELECT id FROM invoices WHERE appointment_id = $1",
                &[&e.appointment_id],
            )
            .await?;
        if existing.is_some() {
            return Ok(Applied::AlreadyInvoiced);
        }
        let fee = tx
            .query_opt(
                "SELECT currency, amount_minor, description FROM fee_schedule
                 WHERE appointment_type = $1 AND duration_minutes = $2",
                &[&e.appointment_type, &(e.duration_minutes as i32)],
            )
            .await?
            .map(|r| -> Result<Fee> {
                let currency: String = column(&r, "currency")?;
                let currency = currency
                    .parse()
                    .map_err(|_| Error::internal(format!("fee_schedule currency {currency:?}")))?;
                Ok(Fee {
                    amount: Money::new(column(&r, "amount_minor")?, currency),
                    description: column(&r, "description")?,
                })
            })
            .transpose()?
            .ok_or_else(|| {
                ApplyError::Poison(format!(
                    "no fee for {} of {} minutes",
                    e.appointment_type, e.duration_minutes
                ))
            })?;
        let priced = price(&fee, self.settings.tax_basis_points)?;
        let issued_at = Utc::now();
        let year = issued_at.year();
        let number: i64 = tx
            .query_one(
                "INSERT INTO invoice_numbers (year, last_number) VALUES ($1, 1)
                 ON CONFLICT (year) DO UPDATE SET last_number = invoice_numbers.last_number + 1
                 RETURNING last_number",
                &[&year],
            )
            .await?
            .get(0);
        let id = Uuid::new_v4();
        let due = (issued_at + Duration::days(self.settings.due_days.into())).date_naive();
        tx.execute(
            "INSERT INTO invoices (id, number, appointment_id, patient_id, doctor_id, status, currency,
                                   subtotal_minor, tax_minor, amount_due, line_items, issued_at, due_date,
                                   source_event_id)
             VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $9, $10, $11, $12, $13)",
            &[
                &id,
                &format!("INV-{year}-{number:06}"),
                &e.appointment_id,
                &e.patient_id,
                &e.doctor_id,
                &priced.total.currency.as_str(),
                &priced.subtotal.minor,
                &priced.tax.minor,
                &priced.total.minor,
                &serde_json::to_value(&priced.lines).map_err(Error::internal)?,
                &issued_at,
                &due,
                &event_id,
            ],
        )
        .await?;
        tracing::info!(invoice_id = %id, appointment_id = %e.appointment_id, "invoice issued");
        Ok(Applied::Invoiced(id))
    }

    /// An invoice its patient, its appointment's doctor or an admin may see (404 otherwise).
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<Invoice> {
        let client = db::client(&self.pool).await?;
        let row = client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM invoices WHERE id = $1"),
                &[&id],
            )
            .await?
            .ok_or(Error::NotFound("invoice"))?;
        let invoice = from_row(&row)?;
        let visible = policy::see_invoice(
            caller,
            &policy::Parties {
                patient: invoice.patient_id,
                doctor: invoice.doctor_id,
            },
        );
        if visible {
            Ok(invoice)
        } else {
            Err(Error::NotFound("invoice"))
        }
    }

    /// A patient's invoices, a doctor's appointments' invoices, or all for admins; by issue time.
    pub async fn list(
        &self,
        caller: &Caller,
        filter: &InvoiceFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Invoice>> {
        crate::validate::time_range(filter.from, filter.to)?;
        let (patient, doctor) = policy::invoice_list(caller);
        let after = crate::pagination::decode(cursor)?;
        let (after_time, after_id) = after.unzip();
        let status = filter.status.map(InvoiceStatus::as_str);
        let client = db::client(&self.pool).await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM invoices
                     WHERE ($1::uuid IS NULL OR patient_id = $1)
                       AND ($2::uuid IS NULL OR doctor_id = $2)
                       AND ($3::text IS NULL OR status = $3)
                       AND ($4::timestamptz IS NULL OR issued_at >= $4)
                       AND ($5::timestamptz IS NULL OR issued_at < $5)
                       AND ($6::timestamptz IS NULL OR (issued_at, id) > ($6, $7))
                     ORDER BY issued_at, id
                     LIMIT $8"
                ),
                &[
                    &patient,
                    &doctor,
                    &status,
                    &filter.from,
                    &filter.to,
                    &after_time,
                    &after_id,
                    &(limit as i64 + 1),
                ],
            )
            .await?;
        let items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        Ok(crate::pagination::page(items, limit, |i| {
            (i.issued_at, i.invoice_id)
        }))
    }

    /// Marks an open invoice paid (admins). Paying a paid invoice is a no-op; a void one is 409.
    pub async fn pay(&self, caller: &Caller, id: Uuid, note: Option<&str>) -> Result<Invoice> {
        policy::pay_invoice(caller)?;
        let note = crate::validate::optional_text("reason", note, 500)?;
        let client = db::client(&self.pool).await?;
        let row = client
            .query_opt(
                &format!(
                    "UPDATE invoices SET status = 'paid', paid_at = now(), paid_note = $2
                     WHERE id = $1 AND status = 'open' RETURNING {COLUMNS}"
                ),
                &[&id, &note],
            )
            .await?;
        if let Some(row) = row {
            tracing::info!(invoice_id = %id, admin = %caller.user_id, "invoice paid");
            return from_row(&row);
        }
        let current = self.get(caller, id).await?;
        match current.status {
            InvoiceStatus::Paid => Ok(current),
            InvoiceStatus::Void => Err(Error::Conflict {
                code: "invoice-void",
                message: "a void invoice cannot be paid".into(),
            }),
            InvoiceStatus::Open => Err(Error::internal("invoice stayed open after payment")),
        }
    }
}

async fn void(
    tx: &db::Transaction<'_>,
    event_id: Uuid,
    e: &AppointmentCancelled,
) -> Result<Applied, ApplyError> {
    tx.execute(
        "INSERT INTO cancelled_appointments (appointment_id, event_id) VALUES ($1, $2)
         ON CONFLICT (appointment_id) DO NOTHING",
        &[&e.appointment_id, &event_id],
    )
    .await?;
    let row = tx
        .query_opt(
            "SELECT id, status FROM invoices WHERE appointment_id = $1 FOR UPDATE",
            &[&e.appointment_id],
        )
        .await?;
    let Some(row) = row else {
        return Ok(Applied::CancelRecorded);
    };
    let id: Uuid = column(&row, "id")?;
    match enum_column::<InvoiceStatus>(&row, "status")? {
        InvoiceStatus::Open => {
            tx.execute(
                "UPDATE invoices SET status = 'void', voided_at = now() WHERE id = $1",
                &[&id],
            )
            .await?;
            tracing::info!(invoice_id = %id, "invoice voided");
            Ok(Applied::Voided(id))
        }
        InvoiceStatus::Paid => {
            tracing::warn!(invoice_id = %id, "cancelled appointment has a paid invoice; left paid");
            Ok(Applied::PaidNotVoided(id))
        }
        InvoiceStatus::Void => Ok(Applied::CancelRecorded),
    }
}
