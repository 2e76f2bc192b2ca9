import { DateTime } from '@taskgraph/runtime';
import { Mutation } from './Mutation.js';
import { Query } from './Query.js';
import { Task } from './Task.js';

export const resolvers = { DateTime, Query, Mutation, Task };
