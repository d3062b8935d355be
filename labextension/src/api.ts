/**
 * Typed client of the jupyter_mltrack REST API (docs/rest-api.md).
 *
 * Every call goes through `ServerConnection.makeRequest`, so the Jupyter token / XSRF handling of the
 * running JupyterLab applies. Errors become `MLTrackApiError` carrying the server's JSON error message.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { decode } from '@msgpack/msgpack';

/** Any JSON value (params, tags, artifact metadata). */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/** A metric value: JSON cannot hold non-finite floats, so those come as strings. */
export type MetricValue = number | 'NaN' | 'Infinity' | '-Infinity';

export type RunStatus = 'running' | 'finished' | 'failed' | 'killed' | 'crashed';

export interface Status {
  version: string;
  backend: string;
  /** Changes whenever anything is written. */
  revision: string;
}

export interface Project {
  id: number;
  name: string;
  description: string;
  created_at: number;
  run_count: number;
  experiment_count: number;
  /** Team mode: the caller's role in the project (admins act as owners); absent in single-user mode. */
  role?: Role | null;
}

export interface Experiment {
  id: number;
  project_id: number;
  project: string;
  name: string;
  description: string;
  created_at: number;
  run_count: number;
}

export interface MetricSummary {
  name: string;
  context: { [key: string]: string };
  key: string;
  last: MetricValue | null;
  last_step: number | null;
  last_time: number | null;
  min: MetricValue | null;
  max: MetricValue | null;
  count: number;
}

export interface RunSummary {
  id: string;
  name: string | null;
  status: RunStatus;
  project_id: number;
  project: string;
  experiments: string[];
  parent_id: string | null;
  user: string | null;
  source: string | null;
  start_time: number;
  end_time: number | null;
  description: string | null;
  params: { [key: string]: JsonValue };
  tags: { [key: string]: string };
  metrics: MetricSummary[];
}

export interface ArtifactFile {
  path: string;
  size: number;
  sha256: string;
  media_type: string | null;
}

export interface Artifact {
  id: number;
  run_id: string;
  name: string;
  type: string;
  version: number;
  created_at: number;
  metadata: { [key: string]: JsonValue } | null;
  files: ArtifactFile[];
}

export interface RunInput {
  artifact_id: number;
  run_id: string;
  name: string;
  type: string;
  version: number;
  role: string | null;
}

export interface Run extends RunSummary {
  error: string | null;
  heartbeat_at: number | null;
  children: string[];
  artifacts: Artifact[];
  inputs: RunInput[];
  campaigns: string[];
}

export interface Series {
  run_id: string;
  name: string;
  context: { [key: string]: string };
  key: string;
  total_count: number;
  downsampled: boolean;
  steps: number[];
  timestamps: number[];
  values: MetricValue[];
}

/** One value on each side of a comparison (null where the run has none). */
export interface ValuePair<T> {
  a: T | null;
  b: T | null;
}

export type CellChange = 'unchanged' | 'modified' | 'added' | 'removed';

/** One cell of a notebook comparison; `a` / `b` are its indexes in each snapshot (null where it is absent). */
export interface CellDiff {
  change: CellChange;
  a: number | null;
  b: number | null;
  cell_type: string;
  source_a: string | null;
  source_b: string | null;
  /** Unified diff of the sources ('' when they are equal or a side is absent). */
  source_diff: string;
  outputs_changed: boolean;
}

/** The snapshot file compared on one side. */
export interface SnapshotRef {
  artifact_id: number;
  path: string;
  label: string;
}

export interface NotebookDiff {
  a: SnapshotRef;
  b: SnapshotRef;
  summary: { [change in CellChange]: number };
  /** How many cells have different outputs. */
  outputs_changed: number;
  cells: CellDiff[];
}

/** The two runs' tracked cells: sources with their `%%track_run` line, outputs as comparable text. */
export interface TrackedCellDiff {
  source_a: string;
  source_b: string;
  /** Unified diff of the sources ('' when equal). */
  source_diff: string;
  /** False when a snapshot holds the cell's source only (no outputs to compare). */
  outputs_known: boolean;
  outputs_a: string;
  outputs_b: string;
  outputs_diff: string;
  outputs_changed: boolean;
}

/** What differs between two runs (`GET diff`). */
export interface RunDiff {
  a: string;
  b: string;
  params: { [key: string]: ValuePair<JsonValue> };
  metrics: { [key: string]: ValuePair<MetricValue> };
  tags: { [key: string]: ValuePair<string> };
  cell: TrackedCellDiff | null;
  notebook: NotebookDiff | null;
  /** Why there is no notebook comparison. */
  notebook_note?: string;
}

export interface RunsPage {
  runs: RunSummary[];
  total: number;
  limit: number;
  offset: number;
}

/** A run in the list's table view: its params and each series' last value (`metrics`: series key → last). */
export interface RunRow extends Omit<RunSummary, 'metrics'> {
  metrics: { [key: string]: MetricValue | null };
}

export interface RunRowsPage {
  runs: RunRow[];
  total: number;
  limit: number;
  offset: number;
}

export interface ListRunsParams {
  project?: string | number;
  experiment?: string | number;
  campaign?: string;
  filter?: string;
  order_by?: string;
  limit?: number;
  offset?: number;
}

/** A project member's role (team mode): viewers read, contributors also write, owners also manage members. */
export type Role = 'owner' | 'contributor' | 'viewer';

export const ROLES: readonly Role[] = ['owner', 'contributor', 'viewer'];

/** `GET me`: who the caller is in the store, and whether the server is a team workspace. */
export interface Me {
  access_control: boolean;
  user: string;
  /** null in single-user mode. */
  admin: boolean | null;
  authenticated_by: 'jupyter' | 'api_key';
}

/** An API key of a user (never its secret). Times are seconds since the epoch. */
export interface ApiKey {
  id: number;
  user: string;
  label: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

/** `POST keys` answers the key and, this once, its secret. */
export interface CreatedApiKey extends ApiKey {
  key: string;
}

export interface Member {
  user: string;
  role: Role;
}

/** An error answered by the server (or the network), with a message fit to show to a person. */
export class MLTrackApiError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly code: string | null
  ) {
    super(message);
    this.name = 'MLTrackApiError';
  }
}

const API_PATH = 'mltrack/api';

let defaultSettings: ServerConnection.ISettings | null = null;

/** Use these server settings (normally `app.serviceManager.serverSettings`) for calls that pass none. */
export function setDefaultSettings(settings: ServerConnection.ISettings): void {
  defaultSettings = settings;
}

function settingsOrDefault(settings?: ServerConnection.ISettings): ServerConnection.ISettings {
  if (settings) {
    return settings;
  }
  if (!defaultSettings) {
    defaultSettings = ServerConnection.makeSettings();
  }
  return defaultSettings;
}

/** The absolute URL of an API route; `parts` are joined with `/` (encode them first). */
export function apiUrl(path: string, settings?: ServerConnection.ISettings): string {
  return URLExt.join(settingsOrDefault(settings).baseUrl, API_PATH, path);
}

function query(params: { [key: string]: string | number | undefined | null }): string {
  const clean: { [key: string]: string } = {};
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') {
      clean[k] = String(v);
    }
  }
  return URLExt.objectToQueryString(clean);
}

interface ErrorBody {
  error?: { code?: string; message?: string };
  message?: string;
}

async function errorFrom(response: Response): Promise<MLTrackApiError> {
  let text = '';
  try {
    text = await response.text();
  } catch {
    // ignore: fall back on the status line
  }
  let message = '';
  let code: string | null = null;
  if (text) {
    try {
      const body = JSON.parse(text) as ErrorBody;
      if (body.error && typeof body.error.message === 'string') {
        message = body.error.message;
        code = typeof body.error.code === 'string' ? body.error.code : null;
      } else if (typeof body.message === 'string') {
        message = body.message;
      }
    } catch {
      // not JSON (e.g. an HTML error page)
    }
  }
  if (!message) {
    message = `${response.status} ${response.statusText || 'error'}`.trim();
    if (response.status === 404) {
      message += ' — is the jupyter_mltrack server extension installed and enabled?';
    }
  }
  return new MLTrackApiError(message, response.status, code);
}

/** Send a request to the server and answer the raw response; throws MLTrackApiError unless 2xx. */
export async function requestRaw(
  url: string,
  init: RequestInit = {},
  settings?: ServerConnection.ISettings
): Promise<Response> {
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settingsOrDefault(settings));
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new MLTrackApiError(`Cannot reach the Jupyter server: ${reason}`, null, 'network');
  }
  if (!response.ok) {
    throw await errorFrom(response);
  }
  return response;
}

/** GET an API route and parse its JSON answer. */
export async function requestJson<T>(path: string, settings?: ServerConnection.ISettings): Promise<T> {
  const response = await requestRaw(apiUrl(path, settings), { method: 'GET' }, settings);
  try {
    return (await response.json()) as T;
  } catch {
    throw new MLTrackApiError(`The server answered something that is not JSON for ${path}`, response.status, 'invalid');
  }
}

/** The series routes' binary form (docs/rest-api.md): msgpack, each series' arrays as little-endian bytes. */
const MSGPACK = 'application/msgpack';

/** A little-endian array of 8-byte numbers (int64 steps, float64 seconds and values) as numbers. */
function unpackNumbers(bytes: Uint8Array, int: boolean): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength >> 3;
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    out[i] = int ? Number(view.getBigInt64(i * 8, true)) : view.getFloat64(i * 8, true);
  }
  return out;
}

/** Values as the JSON answer spells them: NaN and ±inf as strings, so a series is the same whichever form came. */
function jsonValue(v: number): MetricValue {
  return Number.isFinite(v) ? v : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
}

function unpackSeries(s: any): Series {
  const { encoding: _encoding, steps, timestamps, values, ...rest } = s;
  return {
    ...rest,
    steps: unpackNumbers(steps, true),
    timestamps: unpackNumbers(timestamps, false),
    values: unpackNumbers(values, false).map(jsonValue)
  } as Series;
}

/** GET a series route in its binary form (a third of JSON's bytes, no number parsing) and answer it with the
 * arrays as numbers: `{series: [...]}` for `GET metrics`, one series for `GET runs/{id}/metrics`. */
async function requestSeries<T>(path: string, settings?: ServerConnection.ISettings): Promise<T> {
  const response = await requestRaw(apiUrl(path, settings), { method: 'GET', headers: { Accept: MSGPACK } }, settings);
  let body: any;
  try {
    body = decode(new Uint8Array(await response.arrayBuffer()));
  } catch {
    throw new MLTrackApiError(`The server answered something that is not msgpack for ${path}`, response.status, 'invalid');
  }
  return (Array.isArray(body?.series) ? { ...body, series: body.series.map(unpackSeries) } : unpackSeries(body)) as T;
}

export function getStatus(settings?: ServerConnection.ISettings): Promise<Status> {
  return requestJson<Status>('status', settings);
}

export async function listProjects(settings?: ServerConnection.ISettings): Promise<Project[]> {
  const body = await requestJson<{ projects: Project[] }>('projects', settings);
  return body.projects;
}

export async function listExperiments(
  project?: string | number,
  settings?: ServerConnection.ISettings
): Promise<Experiment[]> {
  const body = await requestJson<{ experiments: Experiment[] }>('experiments' + query({ project }), settings);
  return body.experiments;
}

export function listRuns(params: ListRunsParams = {}, settings?: ServerConnection.ISettings): Promise<RunsPage> {
  return requestJson<RunsPage>('runs' + query({ ...params }), settings);
}

/** `GET runs?view=table`: the run table (params and last metric values), compact for thousands of runs. */
export function listRunRows(params: ListRunsParams = {}, settings?: ServerConnection.ISettings): Promise<RunRowsPage> {
  return requestJson<RunRowsPage>('runs' + query({ ...params, view: 'table' }), settings);
}

export function getRun(runId: string, settings?: ServerConnection.ISettings): Promise<Run> {
  return requestJson<Run>('runs/' + encodeURIComponent(runId), settings);
}

export function getSeries(
  runId: string,
  name: string,
  options: { context?: { [key: string]: string }; maxPoints?: number } = {},
  settings?: ServerConnection.ISettings
): Promise<Series> {
  const context = options.context && Object.keys(options.context).length ? JSON.stringify(options.context) : undefined;
  return requestSeries<Series>(
    `runs/${encodeURIComponent(runId)}/metrics` + query({ name, context, max_points: options.maxPoints }),
    settings
  );
}

export function getRunDiff(a: string, b: string, settings?: ServerConnection.ISettings): Promise<RunDiff> {
  return requestJson<RunDiff>('diff' + query({ a, b }), settings);
}

/** The URL of the HTML report of `runIds` (`download` makes it an attachment). */
export function reportUrl(
  runIds: string[],
  options: { title?: string; download?: boolean } = {},
  settings?: ServerConnection.ISettings
): string {
  return apiUrl(
    'report' + query({ runs: runIds.join(','), title: options.title, download: options.download === false ? 0 : 1 }),
    settings
  );
}

/** A report fetched for saving: its bytes and the file name the server suggests. */
export interface ReportFile {
  blob: Blob;
  filename: string;
}

/** The file name of a `Content-Disposition` header, if any. */
export function dispositionFilename(header: string | null): string | null {
  if (!header) {
    return null;
  }
  const star = /filename\*=(?:UTF-8'')?([^;]+)/i.exec(header);
  if (star) {
    try {
      return decodeURIComponent(star[1].trim().replace(/^"|"$/g, ''));
    } catch {
      // fall through to the plain name
    }
  }
  const plain = /filename=("([^"]*)"|[^;]+)/i.exec(header);
  if (!plain) {
    return null;
  }
  return (plain[2] ?? plain[1]).trim() || null;
}

/**
 * Fetch the HTML report of `runIds`. Fetched rather than navigated to, so that a failure (an unknown run, a lost
 * server) arrives as the server's JSON error message instead of a saved error page.
 */
export async function fetchReport(
  runIds: string[],
  options: { title?: string } = {},
  settings?: ServerConnection.ISettings
): Promise<ReportFile> {
  if (runIds.length === 0) {
    throw new MLTrackApiError('No run to export', null, 'invalid');
  }
  const url = reportUrl(runIds, { title: options.title, download: true }, settings);
  const response = await requestRaw(url, { method: 'GET' }, settings);
  const blob = await response.blob();
  const fallback = runIds.length === 1 ? `mltrack-${runIds[0]}.html` : `mltrack-${runIds.length}-runs.html`;
  return { blob, filename: dispositionFilename(response.headers.get('Content-Disposition')) ?? fallback };
}

/** The URL of one artifact file (add `?download=1` to have the browser save it). */
export function artifactFileUrl(
  artifactId: number,
  path: string,
  settings?: ServerConnection.ISettings
): string {
  const encoded = path.split('/').map(encodeURIComponent).join('/');
  return apiUrl(`artifacts/${artifactId}/files/${encoded}`, settings);
}

/** The download link of an artifact file: `?download=1`, plus the XSRF cookie value like JupyterLab's own downloads. */
export function artifactDownloadUrl(
  artifactId: number,
  path: string,
  settings?: ServerConnection.ISettings
): string {
  let url = artifactFileUrl(artifactId, path, settings) + '?download=1';
  const xsrf = typeof document !== 'undefined' ? document.cookie.match('\\b_xsrf=([^;]*)\\b') : null;
  if (xsrf) {
    url += '&_xsrf=' + encodeURIComponent(xsrf[1]);
  }
  return url;
}

/** What a logged figure is (`GET runs/{id}/figures`, core/figures.py). */
export type FigureKind = 'matplotlib' | 'plotly' | 'image' | 'confusion_matrix';

export interface FigureFile {
  path: string;
  media_type: string;
  size: number;
  /** Relative to mltrack/api/: artifacts/{artifact_id}/files/{path}. */
  url: string;
}

export interface FigureStep {
  /** null: a figure logged without a step. */
  step: number | null;
  artifact_id: number;
  created_at: number;
  files: FigureFile[];
}

/** A figure or image of a run: one name in one context, with its steps (ordered). */
export interface Figure {
  name: string;
  kind: FigureKind;
  context: { [key: string]: string };
  /** name[k=v,…], as for metric series. */
  key: string;
  steps: FigureStep[];
}

/** `matrix.json` of a confusion matrix: counts[i][j] samples of true labels[i] predicted labels[j]. */
export interface ConfusionMatrix {
  labels: JsonValue[];
  counts: number[][];
  normalize: 'true' | 'pred' | 'all' | null;
}

/** A run's figures and images. */
export async function listFigures(runId: string, settings?: ServerConnection.ISettings): Promise<Figure[]> {
  const body = await requestJson<{ figures: Figure[] }>(`runs/${encodeURIComponent(runId)}/figures`, settings);
  return body.figures;
}

/** Fetch an artifact file as a blob (images: shown through an object URL, so the request carries the API's
 * credentials whatever the page's cookies). */
export async function getArtifactBlob(
  artifactId: number,
  path: string,
  settings?: ServerConnection.ISettings
): Promise<Blob> {
  const response = await requestRaw(artifactFileUrl(artifactId, path, settings), { method: 'GET' }, settings);
  return response.blob();
}

/** Fetch an artifact file and parse it as JSON (notebook snapshots). */
export async function getArtifactJson<T>(
  artifactId: number,
  path: string,
  settings?: ServerConnection.ISettings
): Promise<T> {
  const response = await requestRaw(artifactFileUrl(artifactId, path, settings), { method: 'GET' }, settings);
  try {
    return (await response.json()) as T;
  } catch {
    throw new MLTrackApiError(`${path} is not a JSON file`, response.status, 'invalid');
  }
}

/** Send a JSON body (`POST` / `PUT`) or none (`DELETE`) and parse the JSON answer, if any. */
async function sendJson<T>(
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  body: unknown,
  settings?: ServerConnection.ISettings
): Promise<T | null> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'Content-Type': 'application/json' };
  }
  const response = await requestRaw(url, init, settings);
  if (response.status === 204) {
    return null;
  }
  const text = await response.text();
  if (!text) {
    return null;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new MLTrackApiError('The server answered something that is not JSON', response.status, 'invalid');
  }
}

// ---- team workspace (team mode) -------------------------------------------------------------------------------

/** Who the caller is; `access_control` is false on a single-user server (then nothing else here applies). */
export function getMe(settings?: ServerConnection.ISettings): Promise<Me> {
  return requestJson<Me>('me', settings);
}

/** The caller's API keys, revoked ones included. */
export async function listKeys(settings?: ServerConnection.ISettings): Promise<ApiKey[]> {
  const body = await requestJson<{ keys: ApiKey[] }>('keys', settings);
  return body.keys;
}

/** Create an API key for the caller; the answer holds its secret (`key`), never shown again. */
export async function createKey(
  options: { label?: string; expiresDays?: number | null } = {},
  settings?: ServerConnection.ISettings
): Promise<CreatedApiKey> {
  const body: { label?: string; expires_days?: number } = {};
  if (options.label) {
    body.label = options.label;
  }
  if (options.expiresDays !== undefined && options.expiresDays !== null) {
    body.expires_days = options.expiresDays;
  }
  const key = await sendJson<CreatedApiKey>('POST', apiUrl('keys', settings), body, settings);
  if (!key || typeof key.key !== 'string') {
    throw new MLTrackApiError('The server did not answer the new key', null, 'invalid');
  }
  return key;
}

/** Revoke an API key: the next request with it is refused. */
export async function revokeKey(keyId: number, settings?: ServerConnection.ISettings): Promise<void> {
  await sendJson<ApiKey>('DELETE', apiUrl('keys/' + String(keyId), settings), undefined, settings);
}

export async function listMembers(project: string | number, settings?: ServerConnection.ISettings): Promise<Member[]> {
  const body = await requestJson<{ members: Member[] }>('members' + query({ project }), settings);
  return body.members;
}

/** Add a member to a project, or change their role (owners). */
export async function setMember(
  project: string | number,
  user: string,
  role: Role,
  settings?: ServerConnection.ISettings
): Promise<void> {
  await sendJson<Member>('PUT', apiUrl('members', settings), { project, user, role }, settings);
}

/** Remove a member from a project (owners). */
export async function removeMember(
  project: string | number,
  user: string,
  settings?: ServerConnection.ISettings
): Promise<void> {
  await sendJson<null>('DELETE', apiUrl('members' + query({ project, user }), settings), undefined, settings);
}

/** A message fit to show for any thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    return err.message;
  }
  return String(err);
}

/** The param, metric (series keys) and tag keys used by the runs in scope: column choosers and completion. */
export interface RunColumns {
  params: string[];
  metrics: string[];
  tags: string[];
}

export function getRunColumns(
  params: Pick<ListRunsParams, 'project' | 'experiment' | 'campaign' | 'filter'> = {},
  settings?: ServerConnection.ISettings
): Promise<RunColumns> {
  return requestJson<RunColumns>('columns' + query({ ...params }), settings);
}

/** How many run ids one `GET metrics` request carries: the server's limit, so a chart of up to 1,000 runs asks
 * once (12-character ids: a 13 KB URL). Five parallel requests of 200 took twice as long as one of 1,000: the
 * server's read threads share one interpreter. */
export const SERIES_MANY_CHUNK = 1000;

/** One metric (name + context) of many runs, each downsampled to at most `maxPoints` (chunked requests). */
export async function getSeriesMany(
  runIds: string[],
  name: string,
  options: { context?: { [key: string]: string }; maxPoints?: number; stepMin?: number; stepMax?: number } = {},
  settings?: ServerConnection.ISettings
): Promise<Series[]> {
  const context = options.context && Object.keys(options.context).length ? JSON.stringify(options.context) : undefined;
  const out: Series[] = [];
  const chunks: string[][] = [];
  for (let i = 0; i < runIds.length; i += SERIES_MANY_CHUNK) {
    chunks.push(runIds.slice(i, i + SERIES_MANY_CHUNK));
  }
  const answers = await Promise.all(
    chunks.map(ids =>
      requestSeries<{ series: Series[] }>(
        'metrics' +
          query({
            runs: ids.join(','),
            name,
            context,
            max_points: options.maxPoints,
            step_min: options.stepMin,
            step_max: options.stepMax
          }),
        settings
      )
    )
  );
  for (const a of answers) {
    out.push(...a.series);
  }
  return out;
}

// -- the model lifecycle: registry and lineage (docs/rest-api.md, docs/lifecycle.md) --------------------------------

export interface ModelVersion {
  model_id: number;
  name: string;
  project: string;
  version: number;
  stage: string;
  description: string;
  created_at: number;
  artifact_id: number;
  run_id: string;
  artifact_name: string;
  artifact_version: number;
  artifact_type: string;
  flavor: string;
  content: string;
  aliases: string[];
}

export type LineageKind = 'run' | 'artifact' | 'dataset' | 'model';

export interface LineageNode {
  id: string;
  kind: LineageKind;
  name?: string;
  version?: number;
  run_id?: string;
  status?: RunStatus;
  type?: string;
  project?: string;
  aliases?: string[];
}

export interface LineageEdge {
  source: string;
  target: string;
  kind: 'output' | 'version' | 'input';
  role: string;
}

export interface Lineage {
  root: string;
  direction: 'up' | 'down';
  depth: number;
  truncated: boolean;
  nodes: LineageNode[];
  edges: LineageEdge[];
}

/** Registered model versions of a project (newest first), with their aliases. */
export async function listModels(
  project: string,
  name?: string,
  settings?: ServerConnection.ISettings
): Promise<ModelVersion[]> {
  const query = new URLSearchParams({ project, ...(name ? { name } : {}) });
  const body = await requestJson<{ models: ModelVersion[] }>(`models?${query.toString()}`, settings);
  return body.models;
}

/** Point a model's alias at a version (moving it from another version in the same transaction). */
export async function setModelAlias(
  project: string,
  model: string,
  alias: string,
  version: number,
  settings?: ServerConnection.ISettings
): Promise<ModelVersion | null> {
  return sendJson<ModelVersion>('PUT', apiUrl('aliases', settings), { project, model, alias, version }, settings);
}

/** Set a model version's stage ('' for none). */
export async function setModelStage(
  project: string,
  model: string,
  version: number,
  stage: string,
  settings?: ServerConnection.ISettings
): Promise<ModelVersion | null> {
  return sendJson<ModelVersion>('PUT', apiUrl('stages', settings), { project, model, version, stage }, settings);
}

/** What a run came from (up) or what came of it (down). */
export function getLineage(
  runId: string,
  direction: 'up' | 'down',
  depth?: number,
  settings?: ServerConnection.ISettings
): Promise<Lineage> {
  const query = new URLSearchParams({ direction, ...(depth !== undefined ? { depth: String(depth) } : {}) });
  return requestJson<Lineage>(`runs/${encodeURIComponent(runId)}/lineage?${query.toString()}`, settings);
}

// -- jobs (docs/rest-api.md, "Jobs") ----------------------------------------------------------------------------

/** A job's execution in one trigger (a cron tick, a run now). */
export interface JobExecution {
  id: number;
  job: string;
  trigger_id: string;
  status: 'pending' | 'queued' | 'running' | 'finished' | 'failed' | 'killed' | 'skipped';
  reason: string;
  run_id: string | null;
  attempts: number;
  scheduled_for: number | null;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
}

/** A job: a notebook or a script run as tracked runs, now, on a schedule, after other jobs. */
export interface Job {
  id: number;
  name: string;
  project: string;
  kind: 'notebook' | 'script';
  path: string;
  params: { [key: string]: unknown };
  schedule: string;
  timezone: string;
  after: string[];
  timeout: number | null;
  retries: number;
  max_concurrent: number;
  paused: boolean;
  user: string;
  next_run: number | null;
  last: JobExecution | null;
}

export async function listJobs(project?: string, settings?: ServerConnection.ISettings): Promise<Job[]> {
  const body = await requestJson<{ jobs: Job[] }>('jobs' + query({ project }), settings);
  return body.jobs;
}

/** Trigger a job now (and the jobs after it): their executions, queued for the server's scheduler. */
export async function runJob(name: string, settings?: ServerConnection.ISettings): Promise<JobExecution[]> {
  const body = await sendJson<{ executions: JobExecution[] }>(
    'POST',
    apiUrl('jobs/' + encodeURIComponent(name) + '/run', settings),
    undefined,
    settings
  );
  return body ? body.executions : [];
}

export async function pauseJob(name: string, settings?: ServerConnection.ISettings): Promise<Job | null> {
  return sendJson<Job>('POST', apiUrl('jobs/' + encodeURIComponent(name) + '/pause', settings), undefined, settings);
}

export async function resumeJob(name: string, settings?: ServerConnection.ISettings): Promise<Job | null> {
  return sendJson<Job>('POST', apiUrl('jobs/' + encodeURIComponent(name) + '/resume', settings), undefined, settings);
}

/** A job's executions, newest first (`limit`: 50 by default). */
export async function listJobExecutions(
  name: string,
  limit?: number,
  settings?: ServerConnection.ISettings
): Promise<JobExecution[]> {
  const body = await requestJson<{ executions: JobExecution[] }>(
    'jobs/' + encodeURIComponent(name) + '/executions' + query({ limit }),
    settings
  );
  return body.executions;
}

/** The log of a job's newest execution that has a run, as far as it went. */
export function getJobLog(
  name: string,
  settings?: ServerConnection.ISettings
): Promise<{ execution: JobExecution; log: string }> {
  return requestJson<{ execution: JobExecution; log: string }>('jobs/' + encodeURIComponent(name) + '/log', settings);
}

/** Define a job (or redefine the job of that name); a relative path is read from the server's root folder. */
export async function createJob(
  spec: { name: string; notebook?: string; script?: string; schedule?: string; timezone?: string; project?: string },
  settings?: ServerConnection.ISettings
): Promise<Job | null> {
  return sendJson<Job>('POST', apiUrl('jobs', settings), spec, settings);
}

// -- deployments: model services and A/B tests (docs/rest-api.md, "Deployments") -------------------------------

export type DeploymentKind = 'model' | 'ab_test';

/** A deployment: one model (kind "model") or an A/B test routing among several, served by a process of its own. */
export interface Deployment {
  name: string;
  project: string;
  kind: DeploymentKind;
  /** model reference ("house@champion") → weight */
  models: { [ref: string]: number };
  strategy: string | null;
  status: string;
  port: number | null;
  pid: number | null;
  /** the model name and version it serves (kind "model", while it runs) */
  model: string | null;
  version: number | null;
  /** this server's path of the service: POST {url}/predict */
  url: string;
  started_at: number | null;
  error: string;
  /** the tracked run an A/B test records into */
  run_id: string | null;
}

/** Per model of an A/B test, as its service counts them (`GET mltrack/serve/{name}/info`, `router.models`). */
export interface AbModelStats {
  model: string;
  requests: number;
  errors: number;
  latency_p50_ms: number | null;
  latency_p99_ms: number | null;
  reward_mean: number | null;
  reward_count: number;
}

export interface ServiceInfo {
  name: string;
  kind: DeploymentKind;
  router?: { strategy: string; run_id: string | null; models: AbModelStats[] };
}

export async function listDeployments(project?: string, settings?: ServerConnection.ISettings): Promise<Deployment[]> {
  const body = await requestJson<{ deployments: Deployment[] }>('deployments' + query({ project }), settings);
  return body.deployments;
}

/** Serve a model (`"house@champion"`, `"house@3"`) as the deployment `name`; answers once it serves (or failed). */
export async function deployModel(
  spec: { name: string; project: string; model: string },
  settings?: ServerConnection.ISettings
): Promise<Deployment | null> {
  return sendJson<Deployment>('POST', apiUrl('deployments', settings), spec, settings);
}

export async function deploymentAction(
  name: string,
  action: 'stop' | 'start' | 'restart',
  settings?: ServerConnection.ISettings
): Promise<Deployment | null> {
  const path = 'deployments/' + encodeURIComponent(name) + '/' + action;
  return sendJson<Deployment>('POST', apiUrl(path, settings), undefined, settings);
}

export async function deleteDeployment(name: string, settings?: ServerConnection.ISettings): Promise<void> {
  await sendJson<null>('DELETE', apiUrl('deployments/' + encodeURIComponent(name), settings), undefined, settings);
}

/** End an A/B test: point `alias` of the winning model's name at the version `model` names, and stop the test. */
export async function promoteModel(
  name: string,
  model: string,
  alias: string,
  settings?: ServerConnection.ISettings
): Promise<unknown> {
  const url = apiUrl('deployments/' + encodeURIComponent(name) + '/promote', settings);
  return sendJson<unknown>('POST', url, { model, alias }, settings);
}

/** A service's own description and, for an A/B test, its counts per model (through this server's front door). */
export async function getServiceInfo(name: string, settings?: ServerConnection.ISettings): Promise<ServiceInfo> {
  const s = settingsOrDefault(settings);
  const url = URLExt.join(s.baseUrl, 'mltrack', 'serve', encodeURIComponent(name), 'info');
  const response = await requestRaw(url, { method: 'GET' }, settings);
  return (await response.json()) as ServiceInfo;
}

/** A campaign: the runs of one question (a sweep, an ablation), named across projects; its description holds the
 * hypothesis. `project`: the project it was created in. */
export interface Campaign {
  id: number;
  name: string;
  description: string;
  project: string | null;
  created_at: number;
  /** its runs (listed for a project: that project's runs) */
  run_count: number;
}

/** `GET campaigns?project=`: the campaigns created in a project or holding its runs. */
export async function listCampaigns(
  project?: string | number,
  settings?: ServerConnection.ISettings
): Promise<Campaign[]> {
  const body = await requestJson<{ campaigns: Campaign[] }>('campaigns' + query({ project }), settings);
  return body.campaigns;
}

/** What a description belongs to: a project, or an experiment or a campaign of it. */
export interface DescriptionTarget {
  project: string;
  experiment?: string;
  campaign?: string;
}

/** Set the description of a project (team mode: owner), an experiment or a campaign (contributor) — `POST projects`,
 * `POST experiments` or `POST campaigns` with the description; an empty one clears it. */
export async function setDescription(
  target: DescriptionTarget,
  description: string,
  settings?: ServerConnection.ISettings
): Promise<void> {
  if (target.campaign) {
    const body = { project: target.project, name: target.campaign, description };
    await sendJson('POST', apiUrl('campaigns', settings), body, settings);
  } else if (target.experiment) {
    const body = { project: target.project, name: target.experiment, description };
    await sendJson('POST', apiUrl('experiments', settings), body, settings);
  } else {
    await sendJson('POST', apiUrl('projects', settings), { name: target.project, description }, settings);
  }
}

/** A run's inline edit: any of its description, name and tags (a null value deletes the tag). */
export interface RunEdit {
  description?: string;
  name?: string;
  tags?: { [key: string]: string | null };
}

/** `PATCH runs/{run_id}`: change a run's description, name or tags in one batch; answers the run. */
export async function editRun(runId: string, edit: RunEdit, settings?: ServerConnection.ISettings): Promise<Run> {
  const run = await sendJson<Run>('PATCH', apiUrl('runs/' + encodeURIComponent(runId), settings), edit, settings);
  return run as Run;
}
