import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { errorMessage, type Page } from "./api";

/** Loads data on mount (and when deps change); `reload` refetches. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const reload = useCallback(async () => {
    const n = ++seq.current;
    setLoading(true);
    try {
      const d = await fn();
      if (n === seq.current) {
        setData(d);
        setError(null);
      }
    } catch (e) {
      if (n === seq.current) setError(errorMessage(e));
    } finally {
      if (n === seq.current) setLoading(false);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { data, error, loading, reload, setData };
}

/** Calls fn every `ms` while mounted (and `enabled`). */
export function useInterval(fn: () => void, ms: number, enabled = true) {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    if (!enabled) return;
    const t = window.setInterval(() => ref.current(), ms);
    return () => window.clearInterval(t);
  }, [ms, enabled]);
}

/** A `{items, next_cursor}` list: the first page on mount (and when deps change); `more` appends
 *  the next one. A failed `more` keeps what was loaded and sets `error`. */
export function usePaged<T>(fn: (cursor?: string) => Promise<Page<T>>, deps: unknown[]) {
  const [items, setItems] = useState<T[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const load = useCallback(async (cursor?: string) => {
    const n = cursor ? seq.current : ++seq.current;
    setLoading(true);
    setError(null);
    try {
      const p = await fn(cursor);
      if (n === seq.current) {
        setItems((prev) => (cursor ? [...(prev ?? []), ...p.items] : p.items));
        setNext(p.next_cursor);
      }
    } catch (e) {
      if (n === seq.current) setError(errorMessage(e));
    } finally {
      if (n === seq.current) setLoading(false);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    void load();
  }, [load]);
  return { items, next, error, loading, reload: () => load(), more: () => (next ? load(next) : Promise.resolve()) };
}

/** The current time, re-read every `ms` while mounted: for "has it started?" and countdowns. */
export function useNow(ms: number) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(t);
  }, [ms]);
  return now;
}

/** `Idempotency-Key`s for one form: the same key while the request body stays the same (a retry
 *  after a lost answer is answered with the first result), a new one when the body changes. */
export function useIdempotencyKey() {
  const last = useRef<{ body: string; key: string } | null>(null);
  return useMemo(
    () => ({
      keyFor(body: unknown): string {
        const text = JSON.stringify(body);
        if (last.current?.body !== text) last.current = { body: text, key: crypto.randomUUID() };
        return last.current.key;
      },
      /** After a success: the next request is a new one even with the same body. */
      reset() {
        last.current = null;
      },
    }),
    [],
  );
}
