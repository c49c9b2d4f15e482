"""``tracker worker``: the journey worker alone (for app nodes that run none), or its status."""
import json
import signal
import time

import click


@click.command()
@click.option("--status", "show_status", is_flag=True, help="Print the worker's status and exit.")
@click.option("--once", is_flag=True, help="Run one round (when no other worker leads) and exit.")
def worker(show_status, once):
    """Keep journey state and transitions current (one worker leads at a time; others wait)."""
    from ..cli import command_store
    from . import JourneyWorker, read_status

    store = command_store()
    if show_status:
        status = read_status(store)
        click.echo(json.dumps(status, indent=2, default=str))
        if status["stale"]:
            raise click.ClickException("no journey worker has reported for a minute")
        return
    journey_worker = JourneyWorker(store)
    if once:
        click.echo(json.dumps(journey_worker.run_once()))
        journey_worker.stop()
        return
    journey_worker.start()
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
        while not stopping:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    journey_worker.stop()
