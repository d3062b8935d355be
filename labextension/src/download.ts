/** Reports as downloads: fetch the HTML (errors stay messages), then hand it to the browser as a file. */
import { ServerConnection } from '@jupyterlab/services';

import { fetchReport } from './api';

/** Have the browser save `blob` as `filename` (a temporary `<a download>` on an object URL). */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.rel = 'noopener';
  a.style.display = 'none';
  document.body.appendChild(a);
  try {
    a.click();
  } finally {
    a.remove();
    // the download has started reading the object URL by then; free it a little later
    window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }
}

/** Fetch the HTML report of `runIds` and save it; answers the file name. Throws MLTrackApiError. */
export async function downloadReport(
  runIds: string[],
  settings?: ServerConnection.ISettings,
  options: { title?: string } = {}
): Promise<string> {
  const report = await fetchReport(runIds, options, settings);
  saveBlob(report.blob, report.filename);
  return report.filename;
}
