/** The Jobs panel in JupyterLab's left sidebar, and "Create a job from this notebook" (its own plugin; REST only,
 * through api.ts). */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, InputDialog, Notification } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ReactWidget, runIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { createJob, errorMessage, getRun, Job } from '../api';
import { saveNotebookSnapshot } from '../snapshot';
import { JobsPanel } from './JobsPanel';

export const JOBS_PANEL_ID = 'mltrack-jobs';
export const CREATE_JOB_COMMAND = 'mltrack:create-job-from-notebook';

export const jobsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mltrack:jobs',
  description: 'Jobs: notebooks and scripts run as tracked runs, now, on a schedule, after other jobs.',
  autoStart: true,
  optional: [ILayoutRestorer, INotebookTracker, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    notebooks: INotebookTracker | null,
    palette: ICommandPalette | null
  ) => {
    const settings = app.serviceManager.serverSettings;
    let reload: () => void = () => undefined;

    /** Define a job running the current notebook (papermill; its 'parameters' cell's defaults), asking its name and
     * an optional cron schedule. */
    const createFromNotebook = async (): Promise<void> => {
      const current = notebooks ? notebooks.currentWidget : null;
      if (!current) {
        Notification.warning('Open a notebook first: the job runs the current notebook.', { autoClose: 5000 });
        return;
      }
      const path = current.context.path;
      const base = (path.split('/').pop() || 'notebook').replace(/\.ipynb$/, '');
      const name = await InputDialog.getText({
        title: `Create a job from ${path}`,
        label: 'Job name (letters, digits, _ - .)',
        text: base.replace(/[^A-Za-z0-9_.-]/g, '-')
      });
      if (!name.button.accept || !name.value) {
        return;
      }
      const schedule = await InputDialog.getText({
        title: 'Schedule (optional)',
        label: 'cron, five fields, e.g. 0 2 * * * (UTC); empty: run it only when asked',
        text: ''
      });
      if (!schedule.button.accept) {
        return;
      }
      try {
        await createJob({ name: name.value, notebook: path, schedule: schedule.value || '' }, settings);
        Notification.success(`Job ${name.value} defined: it runs ${path}.`, { autoClose: 4000 });
        reload();
      } catch (err) {
        Notification.error(`Cannot create the job: ${errorMessage(err)}`, { autoClose: 8000 });
      }
    };
    app.commands.addCommand(CREATE_JOB_COMMAND, {
      label: 'Create a Job from This Notebook',
      caption: 'Run the current notebook as a tracked job: now, on a schedule, after other jobs',
      execute: () => createFromNotebook()
    });
    if (palette) {
      palette.addItem({ command: CREATE_JOB_COMMAND, category: 'Experiment tracking' });
    }

    /** Open the executed notebook (outputs included) of the job's newest execution, as a new notebook under
     * mltrack-snapshots/ (never over the job's own notebook). */
    const openExecuted = async (job: Job): Promise<void> => {
      try {
        if (!job.last || !job.last.run_id) {
          throw new Error(`job ${job.name} has no run yet`);
        }
        const run = await getRun(job.last.run_id, settings);
        const arts = run.artifacts.filter(a => a.name === 'notebook');
        const art = arts[arts.length - 1];
        if (!art || !art.files.length) {
          throw new Error(`run ${run.id} has no executed notebook (yet)`);
        }
        const target = await saveNotebookSnapshot({
          contents: app.serviceManager.contents,
          settings,
          run: { id: run.id, name: run.name },
          artifactId: art.id,
          path: art.files[0].path
        });
        await app.commands.execute('docmanager:open', { path: target });
      } catch (err) {
        Notification.error(`Cannot open the executed notebook: ${errorMessage(err)}`, { autoClose: 8000 });
      }
    };

    const widget = ReactWidget.create(
      <JobsPanel
        settings={settings}
        visible={() => widget.isVisible}
        onReady={load => (reload = load)}
        onCreateFromNotebook={() => void app.commands.execute(CREATE_JOB_COMMAND)}
        onOpenNotebook={job => void openExecuted(job)}
      />
    );
    widget.id = JOBS_PANEL_ID;
    widget.title.icon = runIcon;
    widget.title.caption = 'Jobs';
    widget.addClass('jp-mltrack-jobs-panel');
    app.shell.add(widget, 'left', { rank: 910 });
    if (restorer) {
      restorer.add(widget, JOBS_PANEL_ID);
    }
  }
};
