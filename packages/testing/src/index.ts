export * from './dapr/broker-double.js';
export * from './dapr/jobs-double.js';
export * from './dapr/sidecar-double.js';
export * from './database.js';
export * from './system.js';
