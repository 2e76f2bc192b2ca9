export * from './bus.js';
export * from './bus-schema.js';
export * from './envelope.js';
export * from './outbox.js';
export * from './schemas.js';
export * from './topics.js';
export * from './reminder-rules.js';
