-- The W3C trace context (`traceparent`) of what created the job (an API request, a job, a
-- schedule tick), when traces are on: each attempt's span continues that trace.
ALTER TABLE jobs ADD COLUMN trace_parent TEXT;
