import { DateTime } from '@taskgraph/runtime';
import { Mutation } from './Mutation.js';
import { Notification } from './Notification.js';
import { Query } from './Query.js';
import { Reminder, Task } from './Task.js';

export const resolvers = { DateTime, Query, Mutation, Notification, Task, Reminder };
