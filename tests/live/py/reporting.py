"""Tasks that only some test workers load (`celery worker --include reporting`), so that
`inspect registered` differs from node to node."""

from liveapp import app


@app.task(name="reports.build")
def build(report_id):
    return report_id
