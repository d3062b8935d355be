/**
 * "Open notebook snapshot": copy a notebook artifact file into the Jupyter contents as
 * `mltrack-snapshots/<run name or id>-<run id>-<file stem>.ipynb` (never overwriting: a numeric suffix is added)
 * and open it.
 */
import { Contents, ServerConnection } from '@jupyterlab/services';

import { getArtifactJson, JsonValue } from './api';

export const SNAPSHOT_DIR = 'mltrack-snapshots';

/** Keep a file name part safe on every platform. */
export function safeName(part: string): string {
  const cleaned = part
    .replace(/[\\/:*?"<>|\u0000-\u001f]+/g, '_')
    .replace(/\s+/g, '_')
    .replace(/^\.+/, '');
  return cleaned.slice(0, 80) || 'run';
}

/** The file name's stem: `a/b/analysis.ipynb` → `analysis`. */
export function fileStem(path: string): string {
  const base = path.split('/').pop() ?? path;
  return base.replace(/\.ipynb$/i, '') || 'notebook';
}

function isNotFound(err: unknown): boolean {
  return err instanceof ServerConnection.ResponseError && err.response.status === 404;
}

async function exists(contents: Contents.IManager, path: string): Promise<Contents.IModel | null> {
  try {
    return await contents.get(path, { content: false });
  } catch (err) {
    if (isNotFound(err)) {
      return null;
    }
    throw err;
  }
}

async function ensureDirectory(contents: Contents.IManager, path: string): Promise<void> {
  const model = await exists(contents, path);
  if (model === null) {
    await contents.save(path, { type: 'directory' });
  } else if (model.type !== 'directory') {
    throw new Error(`${path} exists and is not a folder`);
  }
}

/** `dir/base.ipynb`, else `dir/base-1.ipynb`, `dir/base-2.ipynb`, … : the first that does not exist. */
async function freePath(contents: Contents.IManager, dir: string, base: string): Promise<string> {
  for (let i = 0; i < 10000; i++) {
    const candidate = `${dir}/${base}${i === 0 ? '' : `-${i}`}.ipynb`;
    if ((await exists(contents, candidate)) === null) {
      return candidate;
    }
  }
  throw new Error(`too many snapshots named ${base} in ${dir}`);
}

/** The path a snapshot of `file` of `run` is saved under (before the uniqueness suffix). */
export function snapshotBaseName(run: { id: string; name: string | null }, file: string): string {
  return `${safeName(run.name || run.id)}-${safeName(run.id)}-${safeName(fileStem(file))}`;
}

/**
 * Fetch the notebook file of an artifact, save it as a new file under SNAPSHOT_DIR and answer its path.
 */
export async function saveNotebookSnapshot(options: {
  contents: Contents.IManager;
  settings: ServerConnection.ISettings;
  run: { id: string; name: string | null };
  artifactId: number;
  path: string;
}): Promise<string> {
  const { contents, settings, run, artifactId, path } = options;
  const notebook = await getArtifactJson<{ [key: string]: JsonValue }>(artifactId, path, settings);
  if (typeof notebook !== 'object' || notebook === null || !Array.isArray(notebook['cells'])) {
    throw new Error(`${path} is not a Jupyter notebook`);
  }
  await ensureDirectory(contents, SNAPSHOT_DIR);
  const target = await freePath(contents, SNAPSHOT_DIR, snapshotBaseName(run, path));
  await contents.save(target, { type: 'notebook', format: 'json', content: notebook });
  return target;
}
