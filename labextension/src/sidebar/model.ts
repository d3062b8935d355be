/**
 * The sidebar's state outside React: the server revision poller, a response cache (so views keep showing the
 * previous answer while reloading: no flicker), and the UI state that must survive re-renders and view changes
 * (expanded nodes, selected run, the run detail history, the runs filter).
 */
import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { errorMessage, getMe, getStatus, Me, MLTrackApiError, Status } from '../api';

/** How often the revision is polled while the panel is visible (ms). */
export const POLL_INTERVAL = 2000;

export class TrackerModel implements IDisposable {
  constructor(readonly settings: ServerConnection.ISettings) {}

  // ---- server state ------------------------------------------------------------------------------------------

  /** The last status answer (null before the first one). */
  get status(): Status | null {
    return this._status;
  }

  /** The message of the last failed status poll, null once the server answers again. */
  get statusError(): string | null {
    return this._statusError;
  }

  /** Whether a status poll has come back yet (with an answer or an error). */
  get ready(): boolean {
    return this._status !== null || this._statusError !== null;
  }

  /** Bumped when the data must be reloaded: the revision changed, the server came back, or a manual refresh. */
  get generation(): number {
    return this._generation;
  }

  /** Emitted when `generation`, `status` or `statusError` change. */
  get dataChanged(): ISignal<this, void> {
    return this._dataChanged;
  }

  /** Who the caller is (`GET me`); null until known, or when the server cannot say (then: single-user). */
  get me(): Me | null {
    return this._me;
  }

  /** Whether the server is a team workspace (users, API keys, project members). */
  get teamMode(): boolean {
    return !!this._me && this._me.access_control === true;
  }

  /** Answers kept across reloads, keyed by the view that asked. */
  readonly cache = new Map<string, unknown>();

  /** Ask the server for its revision; reload the views if it changed. */
  async poll(): Promise<void> {
    if (this._inFlight) {
      return this._inFlight;
    }
    this._inFlight = this._poll().finally(() => {
      this._inFlight = null;
    });
    return this._inFlight;
  }

  /** Reload everything that is shown, whether or not the revision changed. */
  async refresh(): Promise<void> {
    this._meKnown = false;
    this._generation++;
    this._dataChanged.emit();
    await this.poll();
  }

  private async _poll(): Promise<void> {
    if (!this._meKnown) {
      await this._loadMe();
    }
    try {
      const status = await getStatus(this.settings);
      const hadError = this._statusError !== null;
      const changed = this._status === null || status.revision !== this._status.revision;
      this._status = status;
      this._statusError = null;
      if (changed || hadError) {
        this._generation++;
        this._dataChanged.emit();
      }
    } catch (err) {
      const message = errorMessage(err);
      if (message !== this._statusError) {
        this._statusError = message;
        this._dataChanged.emit();
      }
    }
  }

  /** Ask who the caller is (once, and again on a manual refresh). A server that cannot say is a single-user one. */
  private async _loadMe(): Promise<void> {
    let me: Me | null;
    try {
      me = await getMe(this.settings);
      this._meKnown = true;
    } catch (err) {
      // a server without `GET me` is a single-user one; an unreachable one is asked again on the next poll
      me = null;
      this._meKnown = err instanceof MLTrackApiError && err.status !== null && err.status !== 401;
    }
    if (JSON.stringify(me) !== JSON.stringify(this._me)) {
      this._me = me;
      if (!this.teamMode && this._page !== null) {
        this._page = null;
        this._uiChanged.emit();
      }
      this._dataChanged.emit();
    }
  }

  // ---- polling -----------------------------------------------------------------------------------------------

  /** Poll every POLL_INTERVAL ms while active (the panel is visible); one request at a time. */
  setActive(active: boolean): void {
    if (active === this._active || this.isDisposed) {
      return;
    }
    this._active = active;
    window.clearTimeout(this._timer);
    if (active) {
      void this._loop(++this._loopId);
    }
  }

  private async _loop(id: number): Promise<void> {
    if (id !== this._loopId || !this._active) {
      return;
    }
    if (typeof document === 'undefined' || !document.hidden) {
      await this.poll();
    }
    if (id === this._loopId && this._active) {
      this._timer = window.setTimeout(() => void this._loop(id), POLL_INTERVAL);
    }
  }

  // ---- UI state ----------------------------------------------------------------------------------------------

  /** Emitted when the UI state (expansion, selection, view, filter) changes. */
  get uiChanged(): ISignal<this, void> {
    return this._uiChanged;
  }

  isExpanded(key: string, byDefault = false): boolean {
    return this._expanded.get(key) ?? byDefault;
  }

  /** Like isExpanded, but the first answer sticks: a default that depends on the data (say "the only project is
   * open") does not flip when the data changes later. */
  isExpandedSticky(key: string, byDefault: boolean): boolean {
    if (!this._expanded.has(key)) {
      this._expanded.set(key, byDefault);
    }
    return this._expanded.get(key) as boolean;
  }

  setExpanded(key: string, expanded: boolean): void {
    this._expanded.set(key, expanded);
    this._uiChanged.emit();
  }

  /** The team page shown instead of the tree or a run (team mode): the caller's API keys, or a project's
   * members. */
  get page(): TeamPage | null {
    return this._page;
  }

  openPage(page: TeamPage): void {
    this._page = page;
    this._uiChanged.emit();
  }

  closePage(): void {
    if (this._page !== null) {
      this._page = null;
      this._uiChanged.emit();
    }
  }

  /** The run shown in the detail view, or null for the tree. */
  get currentRunId(): string | null {
    return this._history.length ? this._history[this._history.length - 1] : null;
  }

  /** Whether "back" leads to another run (rather than to the tree). */
  get canGoBackToRun(): boolean {
    return this._history.length > 1;
  }

  /** The run last opened (highlighted in the tree). */
  get selectedRunId(): string | null {
    return this._selected;
  }

  /** Show a run's details; from another run's details (a child, the parent) "back" returns there. */
  openRun(runId: string): void {
    if (this.currentRunId === runId) {
      this.closePage();
      return;
    }
    this._history = this.currentRunId === null ? [runId] : [...this._history, runId].slice(-50);
    this._selected = runId;
    this._page = null;
    this._uiChanged.emit();
  }

  back(): void {
    this._history = this._history.slice(0, -1);
    if (this.currentRunId) {
      this._selected = this.currentRunId;
    }
    this._uiChanged.emit();
  }

  /** Back to the tree, whatever the history. */
  closeRun(): void {
    this._history = [];
    this._uiChanged.emit();
  }

  /** The search-language filter applied to every runs list ('' for none). */
  get filter(): string {
    return this._filter;
  }

  setFilter(filter: string): void {
    const f = filter.trim();
    if (f !== this._filter) {
      this._filter = f;
      this._uiChanged.emit();
    }
  }

  /** How many runs a list shows (grows with "Show more"). */
  runLimit(key: string): number {
    return this._limits.get(key) ?? RUNS_PAGE;
  }

  showMore(key: string): void {
    this._limits.set(key, this.runLimit(key) + RUNS_PAGE);
    this._uiChanged.emit();
  }

  // ---- runs marked for comparison ------------------------------------------------------------------------

  /** The runs marked for comparison / export, in the order they were marked (the first is "A" of a diff). */
  get marked(): readonly MarkedRun[] {
    return this._marked;
  }

  isMarked(runId: string): boolean {
    return this._marked.some(r => r.id === runId);
  }

  setMarked(run: { id: string; name: string | null }, marked: boolean): void {
    const has = this.isMarked(run.id);
    if (marked === has) {
      return;
    }
    this._marked = marked
      ? [...this._marked, { id: run.id, name: run.name }]
      : this._marked.filter(r => r.id !== run.id);
    this._uiChanged.emit();
  }

  clearMarked(): void {
    if (this._marked.length) {
      this._marked = [];
      this._uiChanged.emit();
    }
  }

  // ---- disposal ----------------------------------------------------------------------------------------------

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._active = false;
    window.clearTimeout(this._timer);
    Signal.clearData(this);
  }

  private _me: Me | null = null;
  private _meKnown = false;
  private _page: TeamPage | null = null;
  private _status: Status | null = null;
  private _statusError: string | null = null;
  private _generation = 0;
  private _dataChanged = new Signal<this, void>(this);
  private _uiChanged = new Signal<this, void>(this);
  private _inFlight: Promise<void> | null = null;
  private _active = false;
  private _loopId = 0;
  private _timer = 0;
  private _expanded = new Map<string, boolean>();
  private _history: string[] = [];
  private _selected: string | null = null;
  private _filter = '';
  private _limits = new Map<string, number>();
  private _marked: MarkedRun[] = [];
  private _disposed = false;
}

/** A team page of the sidebar. */
export type TeamPage = { kind: 'keys' } | { kind: 'members'; projectId: number; projectName: string };

/** A run marked for comparison (its name kept for the toolbar). */
export interface MarkedRun {
  id: string;
  name: string | null;
}

/** Runs per page in a runs list. */
export const RUNS_PAGE = 50;
