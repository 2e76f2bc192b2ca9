/**
 * The SQL one `TaskBoard` request makes in the subgraphs, for the Postgres-alone "limit" row: the
 * same statement texts as the read paths send (copied from `subgraphs/tasks` `TaskRepository.list`
 * for `CREATED_AT_ASC`, `subgraphs/audit` `historyPages`, `subgraphs/notifications` `findForTasks`;
 * whitespace aside) with the same values. The benchmark checks the rows they return against the
 * GraphQL answer (20 tasks, their history entries and reminders).
 */
import type { SqlRequest } from '../procs/sql-load.js';

const PAGE_FIRST = `select t.*, t.created_at as sort_key from tasks.task t where t.user_id = $1
      order by t.created_at asc, t.id asc limit $2`;
const PAGE_AFTER = `select t.*, t.created_at as sort_key from tasks.task t where t.user_id = $1 and (t.created_at, t.id) > ($2::timestamptz, $3::uuid)
      order by t.created_at asc, t.id asc limit $4`;
const HISTORY = `select ranked.* from (
         select r.idx, r.lim, e.*, row_number() over (partition by r.idx order by e.seq desc) as rn
           from jsonb_to_recordset($1::jsonb) as r(idx int, task_id uuid, after_seq bigint, lim int)
           join audit.audit_entry e on e.task_id = r.task_id and e.user_id = $2 and (r.after_seq is null or e.seq < r.after_seq)
       ) ranked
       where ranked.rn <= ranked.lim + 1
       order by ranked.idx, ranked.rn`;
const REMINDERS = 'select r.* from notifications.reminder r where r.user_id = $1 and r.task_id = any($2::uuid[]) order by r.task_id, r.n';

/** The statements of one request for the page after `cursor` (the GraphQL `after`), given that page's task ids. */
export function taskBoardSql(userId: string, cursor: string | null, first: number, historyFirst: number, taskIds: string[]): SqlRequest {
  let page: SqlRequest['page'];
  if (cursor) {
    const [, key, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string, string];
    page = { name: 'board-page-after', text: PAGE_AFTER, values: [userId, key, id, first + 1] };
  } else {
    page = { name: 'board-page-first', text: PAGE_FIRST, values: [userId, first + 1] };
  }
  const history = JSON.stringify(taskIds.map((taskId, idx) => ({ idx, task_id: taskId, after_seq: null, lim: historyFirst })));
  return {
    page,
    fanout: [
      { name: 'board-history', text: HISTORY, values: [history, userId] },
      { name: 'board-reminders', text: REMINDERS, values: [userId, taskIds] },
    ],
  };
}
