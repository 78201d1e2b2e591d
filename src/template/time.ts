/** Go time formatting (reference-time layouts like "2006-01-02") for Sprig's date functions and printing time.Time. */

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

const LAYOUT_CHUNK =
  /January|Jan|Monday|Mon|MST|2006|__2|_2|002|0[1-6]|15|[1-5]|PM|pm|-07:00:00|-070000|-07:00|-0700|-07|Z07:00:00|Z070000|Z07:00|Z0700|Z07|[.,](?:0+|9+)(?!\d)/g;

interface Parts {
  year: number;
  month: number;
  day: number;
  weekday: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
  /** Offset east of UTC in minutes. */
  offset: number;
  zone: string;
}

function parts(d: Date, utc: boolean): Parts {
  if (utc) {
    return {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth(),
      day: d.getUTCDate(),
      weekday: d.getUTCDay(),
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
      ms: d.getUTCMilliseconds(),
      offset: 0,
      zone: 'UTC',
    };
  }
  const offset = -d.getTimezoneOffset();
  return {
    year: d.getFullYear(),
    month: d.getMonth(),
    day: d.getDate(),
    weekday: d.getDay(),
    hour: d.getHours(),
    minute: d.getMinutes(),
    second: d.getSeconds(),
    ms: d.getMilliseconds(),
    offset,
    zone: zoneName(d, offset),
  };
}

function zoneName(d: Date, offset: number): string {
  if (offset === 0 && !process.env.TZ) return 'UTC';
  const name = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' })
    .formatToParts(d)
    .find((p) => p.type === 'timeZoneName')?.value;
  if (name && /^[A-Z]{2,5}$/.test(name)) return name;
  return formatOffset(offset, '', false).replace(/00$/, '');
}

const pad2 = (n: number) => String(n).padStart(2, '0');

function formatOffset(offset: number, sep: string, seconds: boolean): string {
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return `${sign}${pad2(Math.floor(abs / 60))}${sep}${pad2(abs % 60)}${seconds ? `${sep}00` : ''}`;
}

function dayOfYear(p: Parts): number {
  return Math.round((Date.UTC(p.year, p.month, p.day) - Date.UTC(p.year, 0, 1)) / 86_400_000) + 1;
}

/** Formats a date with a Go reference layout ("2006-01-02T15:04:05Z07:00"), in UTC or local time. */
export function formatGoTime(d: Date, layout: string, utc = false): string {
  const p = parts(d, utc);
  return layout.replace(LAYOUT_CHUNK, (chunk) => {
    switch (chunk) {
      case 'January':
        return MONTHS[p.month];
      case 'Jan':
        return MONTHS[p.month].slice(0, 3);
      case 'Monday':
        return DAYS[p.weekday];
      case 'Mon':
        return DAYS[p.weekday].slice(0, 3);
      case 'MST':
        return p.zone;
      case '2006':
        return String(p.year).padStart(4, '0');
      case '06':
        return pad2(p.year % 100);
      case '01':
        return pad2(p.month + 1);
      case '1':
        return String(p.month + 1);
      case '02':
        return pad2(p.day);
      case '2':
        return String(p.day);
      case '_2':
        return String(p.day).padStart(2, ' ');
      case '__2':
        return String(dayOfYear(p)).padStart(3, ' ');
      case '002':
        return String(dayOfYear(p)).padStart(3, '0');
      case '15':
        return pad2(p.hour);
      case '03':
        return pad2(p.hour % 12 || 12);
      case '3':
        return String(p.hour % 12 || 12);
      case '04':
        return pad2(p.minute);
      case '4':
        return String(p.minute);
      case '05':
        return pad2(p.second);
      case '5':
        return String(p.second);
      case 'PM':
        return p.hour >= 12 ? 'PM' : 'AM';
      case 'pm':
        return p.hour >= 12 ? 'pm' : 'am';
    }
    if (chunk[0] === 'Z' || chunk[0] === '-') {
      if (chunk[0] === 'Z' && p.offset === 0) return 'Z';
      const body = chunk.slice(1);
      if (body === '07') return formatOffset(p.offset, '', false).slice(0, 3);
      return formatOffset(p.offset, body.includes(':') ? ':' : '', body.length > 5);
    }
    // Fractional seconds: ".000" keeps zeros, ".999" trims them (and the separator when nothing is left).
    const digits = chunk.length - 1;
    const frac = String(p.ms).padStart(3, '0').padEnd(9, '0').slice(0, digits);
    if (chunk[1] === '0') return chunk[0] + frac;
    const trimmed = frac.replace(/0+$/, '');
    return trimmed ? chunk[0] + trimmed : '';
  });
}

/** time.Time.String(): "2006-01-02 15:04:05.999999999 -0700 MST" in local time. */
export function goTimeString(d: Date): string {
  return formatGoTime(d, '2006-01-02 15:04:05.999999999 -0700 MST');
}
