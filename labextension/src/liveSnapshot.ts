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

/**
 * Resolve once the request that opened the comm (the tracked cell's execute_request) is over: the kernel publishes
 * `status: idle` with that request as parent after the cell's last output. (The connection's overall `status` is
 * not enough: it can read idle while the cell's messages are still being applied.)
 */
function whenRequestDone(kernel: Kernel.IKernelConnection, parentId: string | undefined): Promise<boolean> {
  return new Promise(resolve => {
    const done = (ok: boolean) => {
      kernel.iopubMessage.disconnect(onMessage);
      kernel.statusChanged.disconnect(onStatus);
      window.clearTimeout(timer);
      // let the output area apply the messages that came with the status before reading the model
      window.setTimeout(() => resolve(ok), 50);
    };
    const onMessage = (_: Kernel.IKernelConnection, msg: KernelMessage.IIOPubMessage) => {
      if (
        msg.header.msg_type === 'status' &&
        (msg.content as KernelMessage.IStatusMsg['content']).execution_state === 'idle' &&
        (parentId === undefined || (msg.parent_header as Partial<KernelMessage.IHeader>)?.msg_id === parentId)
      ) {
        done(true);
      }
    };
    const onStatus = (_: Kernel.IKernelConnection, status: KernelMessage.Status) => {
      if (status === 'dead' || status === 'restarting' || status === 'autorestarting') {
        done(false);
      }
    };
    const timer = window.setTimeout(() => done(false), IDLE_TIMEOUT);
    kernel.iopubMessage.connect(onMessage);
    kernel.statusChanged.connect(onStatus);
  });
}

async function sendWhenDone(
  panel: NotebookPanel,
  kernel: Kernel.IKernelConnection,
  comm: Kernel.IComm,
  parentId: string | undefined
): Promise<void> {
  const ok = await whenRequestDone(kernel, parentId);
  const model = panel.content.model;
  if (!ok || comm.isDisposed || panel.isDisposed || model === null) {
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
    // answer after the status 'idle' that ends the request which opened the comm (the tracked cell).
    const parent = msg.parent_header as Partial<KernelMessage.IHeader> | undefined;
    void sendWhenDone(panel, kernel, comm, parent?.msg_id);
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
