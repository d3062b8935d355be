/** The Lumino widget hosting the React panel; it polls the server only while it is visible. */
import { ReactWidget } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { mltrackIcon } from '../icon';
import { TrackerModel } from './model';
import { DetailActions } from './sections';
import { SidebarApp } from './Sidebar';

export const SIDEBAR_ID = 'mltrack-sidebar';
export const SIDEBAR_CAPTION = 'Experiment tracking';

export class TrackerSidebar extends ReactWidget {
  constructor(
    readonly model: TrackerModel,
    private readonly _actions: DetailActions
  ) {
    super();
    this.id = SIDEBAR_ID;
    this.addClass('jp-mltrack-sidebar');
    this.title.icon = mltrackIcon;
    this.title.caption = SIDEBAR_CAPTION;
  }

  protected render(): JSX.Element {
    return <SidebarApp model={this.model} actions={this._actions} />;
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.model.setActive(this.isVisible);
  }

  protected onBeforeDetach(msg: Message): void {
    this.model.setActive(false);
    super.onBeforeDetach(msg);
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.setActive(true);
  }

  protected onAfterHide(msg: Message): void {
    this.model.setActive(false);
    super.onAfterHide(msg);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.dispose();
    super.dispose();
  }
}
