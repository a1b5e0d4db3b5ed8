/**
 * Apache ECharts, served by the node (/ui/vendor/echarts.min.js) and loaded on first use, so
 * pages without charts never pay for it. Tooltips render as rich text on the canvas, never as
 * HTML, so item and unit names cannot become markup.
 */
let loading = null

export function loadECharts() {
  loading ??= new Promise((resolve, reject) => {
    if (window.echarts) return resolve(window.echarts)
    const s = document.createElement('script')
    s.src = '/ui/vendor/echarts.min.js'
    s.onload = () => resolve(window.echarts)
    s.onerror = () => {
      loading = null
      reject(new Error('ECharts could not be loaded from this node'))
    }
    document.head.append(s)
  })
  return loading
}

export const PALETTE = ['#1a4fb4', '#14894a', '#e0a100', '#b3261e', '#6b4bc4', '#0f8a9d', '#8a5a00']

/** Waits until `el` is in the page and has a width (a page is built before it is shown). */
async function attached(el) {
  for (let i = 0; i < 120 && !(el.isConnected && el.clientWidth > 0); i++) await new Promise((r) => requestAnimationFrame(r))
}

/** Draws `option` into `el`; returns a handle to dispose of it. Follows the element's size. */
export async function drawChart(el, option) {
  const echarts = await loadECharts()
  await attached(el)
  const chart = echarts.init(el, null, { renderer: 'canvas' })
  chart.setOption({
    color: PALETTE,
    aria: { enabled: true },
    textStyle: { fontFamily: getComputedStyle(document.body).fontFamily, fontSize: 14, color: '#17202c' },
    tooltip: { renderMode: 'richText', trigger: option.series?.[0]?.type === 'pie' ? 'item' : 'axis' },
    grid: { left: 12, right: 24, top: 40, bottom: 12, containLabel: true },
    animationDuration: 400,
    ...option,
  })
  const observer = new ResizeObserver(() => chart.resize())
  observer.observe(el)
  return {
    chart,
    dispose() {
      observer.disconnect()
      chart.dispose()
    },
  }
}
