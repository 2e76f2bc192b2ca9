export * from './cost.js';
export * from './cost-model.js';
export * from './errors.js';
export * from './metrics.js';
export * from './options.js';
export * from './plugin.js';
export * from './user-limiter.js';
