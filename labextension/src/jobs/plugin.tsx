/** The Jobs panel in JupyterLab's left sidebar (its own plugin; REST only, through api.ts). */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ReactWidget, runIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { JobsPanel } from './JobsPanel';

export const JOBS_PANEL_ID = 'mltrack-jobs';

export const jobsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mltrack:jobs',
  description: 'Jobs: notebooks and scripts run as tracked runs, now, on a schedule, after other jobs.',
  autoStart: true,
  optional: [ILayoutRestorer],
  activate: (app: JupyterFrontEnd, restorer: ILayoutRestorer | null) => {
    const settings = app.serviceManager.serverSettings;
    const widget = ReactWidget.create(<JobsPanel settings={settings} visible={() => widget.isVisible} />);
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
