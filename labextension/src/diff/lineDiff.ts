/**
 * Line diffs of cell sources, shaped for display: lines tagged added / removed / context with their line numbers
 * on each side, grouped in hunks with a few lines of context.
 *
 * The server sends each modified cell's unified diff (`source_diff`), but when a cell's last line has no newline
 * (the usual case) its `-` and `+` lines run together in that text; so where both sources are at hand the lines
 * are compared here (longest common subsequence), and the server's text is only parsed when they are not.
 */

export type DiffLineKind = 'add' | 'del' | 'ctx';

export interface DiffLine {
  kind: DiffLineKind;
  text: string;
  /** 1-based line number in the A source (null for added lines). */
  oldNo: number | null;
  /** 1-based line number in the B source (null for removed lines). */
  newNo: number | null;
}

export interface Hunk {
  /** `@@ -1,3 +1,4 @@`, as in a unified diff. */
  header: string;
  lines: DiffLine[];
}

/** Lines of a cell source (a final newline does not make an empty last line). */
export function splitLines(source: string): string[] {
  if (source === '') {
    return [];
  }
  const lines = source.split(/\r\n|\r|\n/);
  if (lines.length > 1 && lines[lines.length - 1] === '') {
    lines.pop();
  }
  return lines;
}

/** Every line of one source with one kind (a cell added or removed whole, or unchanged). */
export function wholeSource(source: string, kind: DiffLineKind): DiffLine[] {
  return splitLines(source).map((text, i) => ({
    kind,
    text,
    oldNo: kind === 'add' ? null : i + 1,
    newNo: kind === 'del' ? null : i + 1
  }));
}

/** Past this many cells of the comparison table, lines are shown as all removed then all added. */
const MAX_TABLE = 4_000_000;

/** All lines of A and B in order, each kept, removed or added (a longest common subsequence of lines). */
export function diffLines(a: string[], b: string[]): DiffLine[] {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) {
    start++;
  }
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const out: DiffLine[] = [];
  for (let i = 0; i < start; i++) {
    out.push({ kind: 'ctx', text: a[i], oldNo: i + 1, newNo: i + 1 });
  }
  const n = endA - start;
  const m = endB - start;
  const middle: DiffLine[] = [];
  if (n > 0 && m > 0 && (n + 1) * (m + 1) <= MAX_TABLE) {
    // lcs[i][j]: length of the LCS of a[start+i..endA) and b[start+j..endB)
    const width = m + 1;
    const lcs = new Uint32Array((n + 1) * width);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * width + j] =
          a[start + i] === b[start + j]
            ? lcs[(i + 1) * width + j + 1] + 1
            : Math.max(lcs[(i + 1) * width + j], lcs[i * width + j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[start + i] === b[start + j]) {
        middle.push({ kind: 'ctx', text: a[start + i], oldNo: start + i + 1, newNo: start + j + 1 });
        i++;
        j++;
      } else if (j < m && (i === n || lcs[i * width + j + 1] >= lcs[(i + 1) * width + j])) {
        middle.push({ kind: 'add', text: b[start + j], oldNo: null, newNo: start + j + 1 });
        j++;
      } else {
        middle.push({ kind: 'del', text: a[start + i], oldNo: start + i + 1, newNo: null });
        i++;
      }
    }
  } else {
    for (let i = start; i < endA; i++) {
      middle.push({ kind: 'del', text: a[i], oldNo: i + 1, newNo: null });
    }
    for (let j = start; j < endB; j++) {
      middle.push({ kind: 'add', text: b[j], oldNo: null, newNo: j + 1 });
    }
  }
  out.push(...groupChanges(middle));
  for (let k = 0; k < a.length - endA; k++) {
    out.push({ kind: 'ctx', text: a[endA + k], oldNo: endA + k + 1, newNo: endB + k + 1 });
  }
  return out;
}

/** Within each run of changed lines, removed lines first, then added ones (reads like a unified diff). */
function groupChanges(lines: DiffLine[]): DiffLine[] {
  const out: DiffLine[] = [];
  let dels: DiffLine[] = [];
  let adds: DiffLine[] = [];
  const flush = () => {
    out.push(...dels, ...adds);
    dels = [];
    adds = [];
  };
  for (const line of lines) {
    if (line.kind === 'ctx') {
      flush();
      out.push(line);
    } else if (line.kind === 'del') {
      dels.push(line);
    } else {
      adds.push(line);
    }
  }
  flush();
  return out;
}

function hunkHeader(lines: DiffLine[]): string {
  const range = (nums: (number | null)[]) => {
    const present = nums.filter((x): x is number => x !== null);
    if (present.length === 0) {
      return '0,0';
    }
    return present.length === 1 ? `${present[0]}` : `${present[0]},${present.length}`;
  };
  return `@@ -${range(lines.map(l => l.oldNo))} +${range(lines.map(l => l.newNo))} @@`;
}

/** The changed lines with `context` lines around them, in hunks; no hunk when nothing changed. */
export function toHunks(lines: DiffLine[], context = 3): Hunk[] {
  const keep = new Array<boolean>(lines.length).fill(false);
  lines.forEach((line, i) => {
    if (line.kind !== 'ctx') {
      for (let k = Math.max(0, i - context); k <= Math.min(lines.length - 1, i + context); k++) {
        keep[k] = true;
      }
    }
  });
  const hunks: Hunk[] = [];
  let current: DiffLine[] = [];
  lines.forEach((line, i) => {
    if (keep[i]) {
      current.push(line);
    } else if (current.length) {
      hunks.push({ header: hunkHeader(current), lines: current });
      current = [];
    }
  });
  if (current.length) {
    hunks.push({ header: hunkHeader(current), lines: current });
  }
  return hunks;
}

/** Parse the text of a unified diff (headers `---` / `+++` skipped). */
export function parseUnifiedDiff(text: string): Hunk[] {
  const hunks: Hunk[] = [];
  let current: Hunk | null = null;
  let oldNo = 1;
  let newNo = 1;
  for (const raw of splitLines(text)) {
    const header = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(raw);
    if (header) {
      current = { header: raw, lines: [] };
      hunks.push(current);
      oldNo = Number(header[1]);
      newNo = Number(header[2]);
      continue;
    }
    if (current === null) {
      continue; // the "--- a" / "+++ b" file headers
    }
    if (raw.startsWith('+')) {
      current.lines.push({ kind: 'add', text: raw.slice(1), oldNo: null, newNo: newNo++ });
    } else if (raw.startsWith('-')) {
      current.lines.push({ kind: 'del', text: raw.slice(1), oldNo: oldNo++, newNo: null });
    } else if (raw.startsWith('\\')) {
      continue; // "\ No newline at end of file"
    } else {
      current.lines.push({ kind: 'ctx', text: raw.slice(1), oldNo: oldNo++, newNo: newNo++ });
    }
  }
  return hunks;
}

/** The hunks of a modified cell: from both sources when present, else from the server's unified diff. */
export function cellHunks(
  sourceA: string | null,
  sourceB: string | null,
  sourceDiff: string,
  context = 3
): Hunk[] {
  if (sourceA !== null && sourceB !== null) {
    return toHunks(diffLines(splitLines(sourceA), splitLines(sourceB)), context);
  }
  return sourceDiff ? parseUnifiedDiff(sourceDiff) : [];
}
