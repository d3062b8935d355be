/**
 * jupyter-mltrack: the "Experiment tracking" panel in JupyterLab's left sidebar.
 */
import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { INotebookTracker } from '@jupyterlab/notebook';
import { refreshIcon } from '@jupyterlab/ui-components';

import { errorMessage, getRun, Run, setDefaultSettings } from './api';
import { mltrackIcon } from './icon';
import { activateLiveSnapshots } from './liveSnapshot';
import { TrackerModel } from './sidebar/model';
import { DetailActions } from './sidebar/sections';
import { SIDEBAR_CAPTION, TrackerSidebar } from './sidebar/widget';
import { saveNotebookSnapshot } from './snapshot';


export namespace CommandIDs {
  export const show = 'mltrack:show';
  export const refresh = 'mltrack:refresh';
  export const openRun = 'mltrack:open-run';
  export const openSnapshot = 'mltrack:open-snapshot';
}

const PALETTE_CATEGORY = 'Experiment tracking';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mltrack:plugin',
  description: 'Browse experiment tracking runs, metrics, artifacts and notebook snapshots in the left sidebar.',
  autoStart: true,
  optional: [ILabShell, IDocumentManager, ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    labShell: ILabShell | null,
    docManager: IDocumentManager | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const settings = app.serviceManager.serverSettings;
    setDefaultSettings(settings);
    const model = new TrackerModel(settings);

    /** Save a notebook artifact file as a new notebook under mltrack-snapshots/ and open it. */
    const openSnapshot = async (run: Pick<Run, 'id' | 'name'>, artifactId: number, path: string) => {
      try {
        const target = await saveNotebookSnapshot({
          contents: app.serviceManager.contents,
          settings,
          run,
          artifactId,
          path
        });
        if (docManager) {
          docManager.openOrReveal(target);
        } else {
          await app.commands.execute('docmanager:open', { path: target });
        }
        return target;
      } catch (err) {
        Notification.error(`Cannot open the notebook snapshot ${path}: ${errorMessage(err)}`, { autoClose: 8000 });
        throw err;
      }
    };

    const actions: DetailActions = {
      openSnapshot: async (run, artifact, path) => {
        try {
          await openSnapshot(run, artifact.id, path);
        } catch {
          // already reported
        }
      }
    };

    const sidebar = new TrackerSidebar(model, actions);
    app.shell.add(sidebar, 'left', { rank: 600, type: SIDEBAR_CAPTION });
    if (restorer) {
      restorer.add(sidebar, sidebar.id);
    }

    const show = () => {
      if (labShell) {
        labShell.activateById(sidebar.id);
      } else {
        app.shell.activateById(sidebar.id);
      }
    };

    app.commands.addCommand(CommandIDs.show, {
      label: 'Show Experiment Tracking',
      caption: 'Show the experiment tracking panel',
      icon: mltrackIcon,
      execute: show
    });
    app.commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh Experiment Tracking',
      caption: 'Reload the projects, runs and run details shown',
      icon: refreshIcon,
      execute: () => model.refresh()
    });
    app.commands.addCommand(CommandIDs.openRun, {
      label: args => (args['runId'] ? `Open Run ${args['runId']}` : 'Open Run…'),
      caption: 'Show a run in the experiment tracking panel (args: runId)',
      describedBy: {
        args: {
          type: 'object',
          properties: { runId: { type: 'string', description: 'The run id' } },
          required: ['runId']
        }
      },
      execute: args => {
        const runId = typeof args['runId'] === 'string' ? args['runId'] : '';
        if (!runId) {
          return;
        }
        show();
        model.openRun(runId);
      }
    });
    app.commands.addCommand(CommandIDs.openSnapshot, {
      label: 'Open Notebook Snapshot',
      caption: 'Copy a notebook artifact file of a run to mltrack-snapshots/ and open it (args: runId, artifactId, path)',
      describedBy: {
        args: {
          type: 'object',
          properties: {
            runId: { type: 'string' },
            artifactId: { type: 'number' },
            path: { type: 'string' }
          },
          required: ['runId', 'artifactId', 'path']
        }
      },
      execute: async args => {
        const runId = String(args['runId'] ?? '');
        const artifactId = Number(args['artifactId']);
        const path = String(args['path'] ?? '');
        if (!runId || !Number.isInteger(artifactId) || !path) {
          throw new Error('mltrack:open-snapshot needs runId, artifactId and path');
        }
        const run = await getRun(runId, settings);
        return openSnapshot(run, artifactId, path);
      }
    });

    if (palette) {
      for (const command of [CommandIDs.show, CommandIDs.refresh]) {
        palette.addItem({ command, category: PALETTE_CATEGORY });
      }
    }
  }
};

/** Answers the kernel's "send me the live notebook" comm when a tracked cell ends (see liveSnapshot.ts). */
const liveSnapshotPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mltrack:live-snapshot',
  description: 'Sends the live notebook (unsaved edits and outputs included) to the kernel for run snapshots.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (_: JupyterFrontEnd, tracker: INotebookTracker) => {
    activateLiveSnapshots(tracker);
  }
};

export default [plugin, liveSnapshotPlugin];
