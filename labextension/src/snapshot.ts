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

/** The names in folder `path`, which is created when missing. */
async function folderNames(contents: Contents.IManager, path: string): Promise<Set<string>> {
  let model: Contents.IModel;
  try {
    model = await contents.get(path, { content: true });
  } catch (err) {
    if (isNotFound(err)) {
      await contents.save(path, { type: 'directory' });
      return new Set();
    }
    throw err;
  }
  if (model.type !== 'directory') {
    throw new Error(`${path} exists and is not a folder`);
  }
  const items = Array.isArray(model.content) ? (model.content as Contents.IModel[]) : [];
  return new Set(items.map(item => item.name));
}

/** `base.ipynb`, else `base-1.ipynb`, `base-2.ipynb`, … : the first name not taken. */
export function freeName(taken: Set<string>, base: string): string {
  for (let i = 0; ; i++) {
    const name = `${base}${i === 0 ? '' : `-${i}`}.ipynb`;
    if (!taken.has(name)) {
      return name;
    }
  }
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
  const taken = await folderNames(contents, SNAPSHOT_DIR);
  const target = `${SNAPSHOT_DIR}/${freeName(taken, snapshotBaseName(run, path))}`;
  await contents.save(target, { type: 'notebook', format: 'json', content: notebook });
  return target;
}
