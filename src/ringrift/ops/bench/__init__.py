"""Platform benchmarks (``ringrift bench api|ws|replay``): they start private PostgreSQL,
Redis and app processes, so they live with the rest of the operator tooling and drive the
app only through its HTTP and WebSocket interfaces."""
