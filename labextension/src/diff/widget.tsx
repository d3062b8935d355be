/** The main-area tab hosting a run comparison (wide diffs read better there than in the sidebar). */
import { ReactWidget } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { mltrackIcon } from '../icon';
import { TrackerModel } from '../sidebar/model';
import { DiffView } from './DiffView';

let counter = 0;

export class DiffWidget extends ReactWidget {
  constructor(
    readonly model: TrackerModel,
    a: string,
    b: string,
    private readonly _openRun: (runId: string) => void
  ) {
    super();
    this._a = a;
    this._b = b;
    this.id = `mltrack-diff-${++counter}`;
    this.addClass('jp-mltrack-diff-widget');
    this.title.icon = mltrackIcon;
    this.title.closable = true;
    this._setTitle({ a, b });
  }

  /** Run A (its lines show as removed). */
  get a(): string {
    return this._a;
  }

  /** Run B (its lines show as added). */
  get b(): string {
    return this._b;
  }

  /** Compare the other way round. */
  swap(): void {
    [this._a, this._b] = [this._b, this._a];
    this._setTitle({ a: this._a, b: this._b });
    this.update();
  }

  protected render(): JSX.Element {
    return (
      <DiffView
        model={this.model}
        a={this._a}
        b={this._b}
        actions={{ openRun: this._openRun, swap: () => this.swap() }}
        onLabels={this._onLabels}
      />
    );
  }

  /** Closing the tab ends the comparison: asked for again, a new one opens (a closed widget is only detached). */
  protected onCloseRequest(msg: Message): void {
    super.onCloseRequest(msg);
    this.dispose();
  }

  private _setTitle(labels: { a: string; b: string }): void {
    this.title.label = `Diff ${labels.a} ↔ ${labels.b}`;
    this.title.caption = `Comparison of run ${this._a} (A) with run ${this._b} (B)`;
  }

  private readonly _onLabels = (labels: { a: string; b: string }) => this._setTitle(labels);
  private _a: string;
  private _b: string;
}
