/** `@taskgraph/client/apollo`: the Apollo Client cache configuration for the taskgraph API. */
export { createTaskgraphCache, taskgraphTypePolicies } from './cache.js';
export { matchesFilter } from './task-lists.js';
