/** Small shared pieces of the sidebar: status badges, messages, collapsible sections, tree carets. */
import { caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { RunStatus } from '../api';
import { TrackerModel } from './model';

const STATUS_TITLES: { [s in RunStatus]: string } = {
  running: 'Running: the run is still being written',
  finished: 'Finished',
  failed: 'Failed: the tracked code raised an error',
  killed: 'Killed: the run was interrupted',
  crashed: 'Crashed: its kernel stopped sending heartbeats'
};

export function StatusBadge(props: { status: RunStatus | string }): JSX.Element {
  const status = props.status;
  const title = (STATUS_TITLES as { [s: string]: string })[status] ?? status;
  return (
    <span className={`jp-mltrack-status jp-mltrack-status-${status}`} data-status={status} title={title}>
      {status}
    </span>
  );
}

/** An empty state: never a blank panel. */
export function EmptyMessage(props: { children: React.ReactNode; className?: string }): JSX.Element {
  return <div className={'jp-mltrack-empty ' + (props.className ?? '')}>{props.children}</div>;
}

/** An error state with the server's message, and an optional retry. */
export function ErrorMessage(props: { message: string; title?: string; onRetry?: () => void }): JSX.Element {
  return (
    <div className="jp-mltrack-error" role="alert">
      {props.title && <div className="jp-mltrack-error-title">{props.title}</div>}
      <div className="jp-mltrack-error-message">{props.message}</div>
      {props.onRetry && (
        <button className="jp-mltrack-link-button" onClick={props.onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Loading(props: { what?: string }): JSX.Element {
  return <div className="jp-mltrack-loading">Loading{props.what ? ` ${props.what}` : ''}…</div>;
}

export function Caret(props: { expanded: boolean }): JSX.Element {
  const Icon = props.expanded ? caretDownIcon : caretRightIcon;
  return <Icon.react tag="span" className="jp-mltrack-caret" />;
}

/** A titled, collapsible section of the run detail view. */
export function Section(props: {
  title: string;
  count?: number;
  name: string;
  expanded: boolean;
  onToggle: (expanded: boolean) => void;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <section className="jp-mltrack-section" data-section={props.name}>
      <h3
        className="jp-mltrack-section-title"
        role="button"
        tabIndex={0}
        aria-expanded={props.expanded}
        onClick={() => props.onToggle(!props.expanded)}
        onKeyDown={e => {
          if (e.key === 'Enter' || e.key === ' ') {
            e.preventDefault();
            props.onToggle(!props.expanded);
          }
        }}
      >
        <Caret expanded={props.expanded} />
        <span>{props.title}</span>
        {props.count !== undefined && <span className="jp-mltrack-count">{props.count}</span>}
      </h3>
      {props.expanded && <div className="jp-mltrack-section-body">{props.children}</div>}
    </section>
  );
}

/** A Section, open at first, whose open/closed state the model keeps under `${scope}:${name}` (so it survives a
 * reload and is shared by every view of that scope). */
export function RememberedSection(props: {
  model: TrackerModel;
  scope: string;
  name: string;
  title: string;
  count?: number;
  children: React.ReactNode;
}): JSX.Element {
  const { model, scope, name } = props;
  const key = `${scope}:${name}`;
  return (
    <Section
      name={name}
      title={props.title}
      count={props.count}
      expanded={model.isExpanded(key, true)}
      onToggle={v => model.setExpanded(key, v)}
    >
      {props.children}
    </Section>
  );
}

/** Keyboard activation (Enter / Space) for non-button elements with a click action. */
export function onActivateKey(action: () => void): (e: React.KeyboardEvent) => void {
  return e => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      action();
    }
  };
}
