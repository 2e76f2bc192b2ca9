export * from './dapr/broker-double.js';
export * from './dapr/jobs-double.js';
export * from './dapr/sidecar-double.js';
export * from './database.js';
export * from './subgraph-client.js';
export * from './task-events.js';
export * from './wait-for.js';
