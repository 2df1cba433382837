import { useState } from "react";
import { api, dateTime, errorMessage, money, request, type Invoice, type Page } from "../api";
import { useAuth } from "../auth";
import { Button, Card, ErrorBanner, PageTitle, ResponsiveTable, SelectField, Spinner, StatusBadge } from "../components/ui";
import { useInterval, useLoad } from "../hooks";

export function InvoicesPage() {
  const { me } = useAuth();
  const admin = me!.role === "admin";
  const [status, setStatus] = useState("");
  const list = useLoad(async () => (await api.get<Page<Invoice>>("/invoices", { status, limit: 100 })).items.reverse(), [status]);
  // Invoices are issued asynchronously (billing consumes the booking event): keep the list fresh.
  useInterval(() => void list.reload(), 5000);
  const [error, setError] = useState<string | null>(null);
  const [paying, setPaying] = useState<string | null>(null);

  async function pay(inv: Invoice) {
    setPaying(inv.invoice_id);
    setError(null);
    try {
      await request("POST", `/invoices/${inv.invoice_id}/pay`, { body: { reason: "Recorded in the portal" } });
      await list.reload();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setPaying(null);
    }
  }

  return (
    <div className="space-y-4">
      <PageTitle>{admin ? "Invoices" : "My invoices"}</PageTitle>
      <ErrorBanner error={error} />
      <Card
        actions={
          <div className="flex flex-wrap items-end gap-3">
            <div className="w-40">
              <SelectField label="Status" value={status} onChange={(e) => setStatus(e.target.value)}>
                <option value="">All</option>
                <option value="open">Open</option>
                <option value="paid">Paid</option>
                <option value="void">Void</option>
              </SelectField>
            </div>
            <Button type="button" variant="secondary" onClick={() => void list.reload()}>
              Refresh
            </Button>
          </div>
        }
      >
        {list.loading && !list.data ? (
          <Spinner label="Loading invoices…" />
        ) : list.error ? (
          <ErrorBanner error={list.error} />
        ) : (
          <ResponsiveTable
            caption="Invoices"
            rows={list.data!}
            rowKey={(i) => i.invoice_id}
            empty="No invoices yet. An invoice appears shortly after you book."
            columns={[
              { header: "Number", cell: (i) => <span className="font-mono">{i.number}</span> },
              { header: "Issued", cell: (i) => dateTime(i.issued_at) },
              { header: "Due", cell: (i) => i.due_date },
              { header: "Amount", cell: (i) => money(i.amount_due, i.currency) },
              { header: "Status", cell: (i) => <StatusBadge status={i.status} /> },
              ...(admin
                ? [
                    {
                      header: "Actions",
                      cell: (i: Invoice) =>
                        i.status === "open" ? (
                          <Button type="button" busy={paying === i.invoice_id} onClick={() => void pay(i)} aria-label={`Mark ${i.number} paid`}>
                            Mark paid
                          </Button>
                        ) : (
                          "—"
                        ),
                    },
                  ]
                : []),
            ]}
          />
        )}
      </Card>
    </div>
  );
}
