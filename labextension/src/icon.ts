import { LabIcon } from '@jupyterlab/ui-components';

/** A chart line rising over two axes; `jp-icon3` lets the theme colour it. */
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M3 3h2v16h16v2H3z"/>
    <path d="M6.6 16.3l4.3-5.1 3 2.5 4.6-5.6 1.6 1.3-5.9 7.1-3-2.5-3 3.6z"/>
    <circle cx="19.6" cy="5.4" r="1.9"/>
  </g>
</svg>`;

export const mltrackIcon = new LabIcon({ name: 'jupyter-mltrack:icon', svgstr: svg });
