import { DateTime } from '@taskgraph/runtime';
import { Cursor } from './Cursor.js';
import { Query } from './Query.js';
import { ReminderDue } from './ReminderDue.js';
import { Subscription } from './Subscription.js';
import { TaskUpdate } from './TaskUpdate.js';

export const resolvers = { Cursor, DateTime, Query, Subscription, TaskUpdate, ReminderDue };
