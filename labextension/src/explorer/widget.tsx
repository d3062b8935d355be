/** The explorer as a main-area JupyterLab widget, with its own server poller (live while it is shown). */
import { ReactWidget } from '@jupyterlab/ui-components';
import { ServerConnection } from '@jupyterlab/services';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { mltrackIcon } from '../icon';
import { TrackerModel } from '../sidebar/model';
import { ExplorerApp, ExplorerRequest } from './Explorer';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export const EXPLORER_ID = 'mltrack-explorer';
export const EXPLORER_TITLE = 'Experiment explorer';

export class ExplorerWidget extends ReactWidget {
  readonly model: TrackerModel;

  constructor(
    settings: ServerConnection.ISettings,
    private readonly _actions: { openRun: (runId: string) => void; compare: (a: string, b: string) => void }
  ) {
    super();
    this.model = new TrackerModel(settings);
    this.id = EXPLORER_ID;
    this.addClass('jp-mltrack-explorer-widget');
    this.title.label = EXPLORER_TITLE;
    this.title.icon = mltrackIcon;
    this.title.closable = true;
  }

  /** Show a view of the explorer: the lineage of a run or a model version, a model in the Models view. */
  navigate(request: DistributiveOmit<ExplorerRequest, 'seq'>): void {
    this._request = { ...request, seq: (this._request?.seq ?? 0) + 1 } as ExplorerRequest;
    this.update();
  }

  protected render(): JSX.Element {
    return (
      <ExplorerApp
        model={this.model}
        onOpenRun={this._actions.openRun}
        onCompare={this._actions.compare}
        request={this._request}
      />
    );
  }

  private _request: ExplorerRequest | null = null;

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.setActive(true);
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.model.setActive(this.isVisible);
  }

  protected onAfterHide(msg: Message): void {
    this.model.setActive(false);
    super.onAfterHide(msg);
  }

  protected onBeforeDetach(msg: Message): void {
    this.model.setActive(false);
    super.onBeforeDetach(msg);
  }

  /** Closing the tab ends the explorer (its poller with it); opening it again starts a fresh one. */
  protected onCloseRequest(msg: Message): void {
    super.onCloseRequest(msg);
    this.dispose();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.dispose();
    super.dispose();
  }
}
