// The lower-level test tools (databases, Dapr doubles, subgraph calls) live in @taskgraph/test-kit, which the
// services' own tests use; whole-system tests get them from here too.
export * from '@taskgraph/test-kit';
export * from './delivery-lag.js';
export * from './gateway-client.js';
export * from './gateway-config.js';
export * from './latency-probe.js';
export * from './latency-summary.js';
export * from './system.js';
