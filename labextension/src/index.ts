/**
 * jupyter-mltrack: the "Experiment tracking" panel in JupyterLab's left sidebar.
 */
import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification, WidgetTracker } from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker } from '@jupyterlab/notebook';
import { refreshIcon } from '@jupyterlab/ui-components';

import { errorMessage, getRun, Run, setDefaultSettings } from './api';
import { DiffWidget } from './diff/widget';
import { downloadReport } from './download';
import { EXPLORER_ID, ExplorerWidget } from './explorer/widget';
import { mltrackIcon } from './icon';
import { jobsPlugin } from './jobs/plugin';
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
  export const diffRuns = 'mltrack:diff-runs';
  export const exportReport = 'mltrack:export-report';
  export const openExplorer = 'mltrack:open-explorer';
}

const PALETTE_CATEGORY = 'Experiment tracking';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mltrack:plugin',
  description: 'Browse experiment tracking runs, metrics, artifacts and notebook snapshots in the left sidebar.',
  autoStart: true,
  optional: [ILabShell, IDocumentManager, ICommandPalette, ILayoutRestorer, ILauncher],
  activate: (
    app: JupyterFrontEnd,
    labShell: ILabShell | null,
    docManager: IDocumentManager | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    launcher: ILauncher | null
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

    const diffTracker = new WidgetTracker<DiffWidget>({ namespace: 'mltrack-diff' });

    /** Open (or bring forward) the comparison of runs a (A) and b (B) in the main area. */
    const diffRuns = (a: string, b: string): DiffWidget => {
      const existing = diffTracker.find(w => w.a === a && w.b === b);
      if (existing) {
        app.shell.activateById(existing.id);
        return existing;
      }
      const widget = new DiffWidget(model, a, b, runId => {
        show();
        model.openRun(runId);
      });
      void diffTracker.add(widget);
      // a swap changes the pair the tab is restored with
      widget.title.changed.connect(() => void diffTracker.save(widget));
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
      return widget;
    };

    const explorerTracker = new WidgetTracker<ExplorerWidget>({ namespace: 'mltrack-explorer' });

    /** Open (or bring forward) the experiment explorer in the main area. */
    const openExplorer = (): ExplorerWidget => {
      const existing = explorerTracker.find(w => w.id === EXPLORER_ID);
      if (existing) {
        app.shell.activateById(existing.id);
        return existing;
      }
      const widget = new ExplorerWidget(settings, {
        openRun: runId => {
          show();
          model.openRun(runId);
        },
        compare: (a, b) => void diffRuns(a, b)
      });
      void explorerTracker.add(widget);
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
      return widget;
    };

    const actions: DetailActions = {
      openSnapshot: async (run, artifact, path) => {
        try {
          await openSnapshot(run, artifact.id, path);
        } catch {
          // already reported
        }
      },
      diffRuns: (a, b) => {
        diffRuns(a, b);
      },
      openExplorer: () => {
        openExplorer();
      },
      openLineage: (runId, focus) => {
        openExplorer().navigate({ tab: 'lineage', target: { runId, focus } });
      },
      openModelVersion: (project, name, version) => {
        openExplorer().navigate({ tab: 'models', project, model: name, version });
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
    app.commands.addCommand(CommandIDs.openExplorer, {
      label: args => (args['isLauncher'] ? 'Experiment Explorer' : 'Open Experiment Explorer'),
      caption: 'Every run at full width: the run table, grouped metric charts',
      icon: mltrackIcon,
      execute: () => openExplorer()
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

    /** `a` and `b` from the args, else the two runs marked in the sidebar. */
    const diffPair = (args: { [key: string]: unknown }): [string, string] | null => {
      const a = typeof args['a'] === 'string' ? args['a'] : '';
      const b = typeof args['b'] === 'string' ? args['b'] : '';
      if (a && b) {
        return [a, b];
      }
      const marked = model.marked;
      return !a && !b && marked.length === 2 ? [marked[0].id, marked[1].id] : null;
    };

    app.commands.addCommand(CommandIDs.diffRuns, {
      label: args => {
        const pair = diffPair(args);
        return pair ? `Diff Runs ${pair[0]} ↔ ${pair[1]}` : 'Diff Two Runs';
      },
      caption: 'Compare two runs: params, metrics, tags and notebook cells (args: a, b; else the two marked runs)',
      icon: mltrackIcon,
      describedBy: {
        args: {
          type: 'object',
          properties: {
            a: { type: 'string', description: 'Run A (shown as removed lines)' },
            b: { type: 'string', description: 'Run B (shown as added lines)' }
          }
        }
      },
      isEnabled: args => diffPair(args) !== null,
      execute: args => {
        const pair = diffPair(args);
        if (!pair) {
          throw new Error('mltrack:diff-runs needs two run ids, a and b (or exactly two runs marked in the sidebar)');
        }
        return diffRuns(pair[0], pair[1]);
      }
    });

    /** The run ids of the args (`runs`: a list or a comma-separated string), else the marked runs. */
    const exportIds = (args: { [key: string]: unknown }): string[] => {
      const runs = args['runs'];
      if (Array.isArray(runs)) {
        return runs.filter((r): r is string => typeof r === 'string' && r !== '');
      }
      if (typeof runs === 'string' && runs) {
        return runs.split(',').filter(r => r);
      }
      return model.marked.map(r => r.id);
    };

    app.commands.addCommand(CommandIDs.exportReport, {
      label: args => {
        const n = exportIds(args).length;
        return n ? `Export Report of ${n} Run${n === 1 ? '' : 's'}` : 'Export Report of Marked Runs';
      },
      caption: 'Download a standalone HTML report of runs (args: runs, title; else the runs marked in the sidebar)',
      describedBy: {
        args: {
          type: 'object',
          properties: {
            runs: { type: 'array', items: { type: 'string' }, description: 'Run ids' },
            title: { type: 'string', description: 'Report title' }
          }
        }
      },
      isEnabled: args => exportIds(args).length > 0,
      execute: async args => {
        const ids = exportIds(args);
        const title = typeof args['title'] === 'string' ? args['title'] : undefined;
        try {
          return await downloadReport(ids, settings, { title });
        } catch (err) {
          Notification.error(`Cannot export the report: ${errorMessage(err)}`, { autoClose: 8000 });
          throw err;
        }
      }
    });

    if (restorer) {
      void restorer.restore(diffTracker, {
        command: CommandIDs.diffRuns,
        args: w => ({ a: w.a, b: w.b }),
        name: w => `${w.a}:${w.b}`
      });
    }

    if (restorer) {
      void restorer.restore(explorerTracker, { command: CommandIDs.openExplorer, name: () => 'explorer' });
    }

    if (palette) {
      for (const command of [
        CommandIDs.show,
        CommandIDs.openExplorer,
        CommandIDs.refresh,
        CommandIDs.diffRuns,
        CommandIDs.exportReport
      ]) {
        palette.addItem({ command, category: PALETTE_CATEGORY });
      }
    }
    if (launcher) {
      launcher.add({ command: CommandIDs.openExplorer, category: 'Other', rank: 10, args: { isLauncher: true } });
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

export default [plugin, liveSnapshotPlugin, jobsPlugin];
