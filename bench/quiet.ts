/**
 * Imported first by bench/run.ts, so that the bench prints its tables only. Sections run handlers in this
 * process, and Powertools' logger and metrics (shared/observability.ts) read their level and whether they are
 * disabled when that module is first evaluated, which the sections' static imports do before run.ts's own
 * code runs: set in `main()`, these came too late, and the crypto section's 2,200 handler calls printed a
 * request log line and a metrics document each. The SDK's warning that its 2027 releases need Node 22 is
 * printed by the first client a section makes here (Lambda runs Node 22; BENCH_ENV turns it off in the
 * cold-start processes).
 */
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
