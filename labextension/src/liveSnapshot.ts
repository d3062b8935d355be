/**
 * The live-snapshot comm: when a tracked cell ends, the kernel opens a comm to the target `jupyter_mltrack` with
 * `{"request": "snapshot", "run_id", "version": 1}`. We answer — once the kernel is idle again, so the cell's outputs
 * are in the document — with `{"path", "notebook"}`: the notebook as it is in the browser, unsaved edits included.
 * The kernel stores it as a new version of the run's `notebook` artifact (see ARCHITECTURE.md, "Live snapshot").
 */
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { JSONObject } from '@lumino/coreutils';

export const COMM_TARGET = 'jupyter_mltrack';

/** Give up waiting for the kernel to be idle after this long (ms): a cell that runs on that long is left alone. */
const IDLE_TIMEOUT = 30 * 60 * 1000;

function whenIdle(kernel: Kernel.IKernelConnection): Promise<boolean> {
  if (kernel.status === 'idle') {
    return Promise.resolve(true);
  }
  return new Promise(resolve => {
    const done = (idle: boolean) => {
      kernel.statusChanged.disconnect(onStatus);
      window.clearTimeout(timer);
      resolve(idle);
    };
    const onStatus = (_: Kernel.IKernelConnection, status: KernelMessage.Status) => {
      if (status === 'idle') {
        done(true);
      } else if (status === 'dead' || status === 'restarting' || status === 'autorestarting') {
        done(false);
      }
    };
    const timer = window.setTimeout(() => done(false), IDLE_TIMEOUT);
    kernel.statusChanged.connect(onStatus);
  });
}

async function sendWhenIdle(
  panel: NotebookPanel,
  kernel: Kernel.IKernelConnection,
  comm: Kernel.IComm
): Promise<void> {
  const idle = await whenIdle(kernel);
  const model = panel.content.model;
  if (!idle || comm.isDisposed || panel.isDisposed || model === null) {
    return;
  }
  try {
    comm.send({
      path: panel.context.path,
      notebook: model.toJSON() as unknown as JSONObject
    });
  } catch (err) {
    console.warn('jupyter-mltrack: could not send the live notebook snapshot', err);
  }
}

function answerSnapshotRequests(panel: NotebookPanel, kernel: Kernel.IKernelConnection): void {
  kernel.registerCommTarget(COMM_TARGET, (comm, msg) => {
    const data = msg.content.data as { request?: unknown };
    if (data.request !== 'snapshot') {
      return;
    }
    // The kernel connection handles its messages one at a time and waits for this callback: return at once, and
    // answer after the status 'idle' that follows the cell's last output.
    void sendWhenIdle(panel, kernel, comm);
  });
}

/** Register the comm target on the kernel of every notebook, now and whenever its kernel changes. */
export function activateLiveSnapshots(tracker: INotebookTracker): void {
  const watch = (panel: NotebookPanel) => {
    const session = panel.sessionContext;
    const current = session.session?.kernel;
    if (current) {
      answerSnapshotRequests(panel, current);
    }
    session.kernelChanged.connect((_, change) => {
      if (change.newValue) {
        answerSnapshotRequests(panel, change.newValue);
      }
    });
  };
  tracker.forEach(watch);
  tracker.widgetAdded.connect((_, panel) => watch(panel));
}
