// Negative fixture: FixtureTask does not select `dueAt`, so reading it must be a type error.
import { createTaskgraphClient } from '../../src/client.js';
import { FixtureTaskDocument } from '../.out/valid/graphql.js';

export async function dueDate(id: string): Promise<string | null | undefined> {
  const client = createTaskgraphClient({ url: 'http://127.0.0.1:4000/graphql', token: 'dev' });
  const { task } = await client.query(FixtureTaskDocument, { id });
  return task?.dueAt;
}
