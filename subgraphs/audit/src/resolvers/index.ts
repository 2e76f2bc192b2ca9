import { DateTime } from '@taskgraph/runtime';
import { AuditEntry } from './AuditEntry.js';
import { JSONScalar } from './JSON.js';
import { Query } from './Query.js';
import { Task } from './Task.js';

export const resolvers = { DateTime, JSON: JSONScalar, Query, Task, AuditEntry };
