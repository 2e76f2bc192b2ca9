/** Title and body of a reminder notification (plain text; clients localise the time). */
export function reminderText(taskTitle: string, dueAt: Date | null, fireAt: Date): { title: string; body: string } {
  return {
    title: `Reminder: ${taskTitle}`,
    body: dueAt ? `Due ${dueAt.toISOString()}` : `Reminder for ${fireAt.toISOString()}`,
  };
}
