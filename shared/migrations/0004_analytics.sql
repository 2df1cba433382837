-- Analytics results as the portal reads them: the latest result per (window, partition,
-- dimension) key, kept by the analytics-sink consumer of the `analytics-results` topic.
CREATE TABLE analytics_results (
    result_key    text PRIMARY KEY,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    partition     integer NOT NULL,
    dimension     text NOT NULL,
    value         text,
    appointments  bigint NOT NULL,
    cancellations bigint NOT NULL,
    late_events   bigint NOT NULL,
    event_id      uuid NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX analytics_results_totals_idx ON analytics_results (window_start) WHERE dimension = 'total';
