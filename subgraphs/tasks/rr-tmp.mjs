import rrulePkg from 'rrule';

const { RRule } = rrulePkg;
for (const r of [
  'FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30',
  'FREQ=DAILY;BYMONTH=2;BYMONTHDAY=31',
  'FREQ=HOURLY;INTERVAL=9999;BYHOUR=1;BYMONTHDAY=31;BYMONTH=2',
  'FREQ=YEARLY;BYWEEKNO=53;BYDAY=MO;BYMONTH=1;BYMONTHDAY=31',
  'FREQ=HOURLY;BYYEARDAY=366;BYMONTHDAY=1',
]) {
  const t = Date.now();
  const options = RRule.parseString(r);
  const x = new RRule({ ...options, dtstart: new Date(Date.UTC(2000, 0, 1)) }).after(new Date(Date.UTC(2000, 0, 1)), true);
  console.log(r, x, Date.now() - t, 'ms');
}
